//! Unit tests of `proc_stats.rs`.

use super::*;

const STAT: &str = "4242 (clarion (x) y) S 1 4242 4242 0 -1 4194560 2711 0 0 0 \
                    153 47 0 0 20 0 3 0 123456 123456789 2048 18446744073709551615 \
                    1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0";

const STATUS: &str = "Name:\tclarion\nUmask:\t0022\nState:\tS (sleeping)\n\
                      VmPeak:\t  123456 kB\nVmHWM:\t    9000 kB\nVmRSS:\t    8192 kB\n\
                      RssAnon:\t    4096 kB\nThreads:\t3\n";

const LIMITS: &str = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max cpu time              unlimited            unlimited            seconds   \n\
                      Max open files            20000                20000                files     \n";

#[test]
fn stat_ticks_survive_odd_command_names() {
    assert_eq!(parse_stat_ticks(STAT), Some((153, 47)));
    assert_eq!(parse_stat_ticks("1 (a) S 1 2"), None);
    assert_eq!(parse_stat_ticks("garbage"), None);
}

#[test]
fn status_rss_in_bytes() {
    assert_eq!(parse_status_rss(STATUS), Some(8192 * 1024));
    assert_eq!(parse_status_rss("Name:\tx\n"), None);
    assert_eq!(parse_status_rss("VmRSS:\t12 MB\n"), None);
}

#[test]
fn fd_limit_is_the_soft_limit() {
    assert_eq!(parse_fd_limit(LIMITS), Some(20_000));
    assert_eq!(parse_fd_limit("nothing"), None);
}

#[test]
fn own_process_is_readable_and_cpu_math_holds() {
    let s = own_sample();
    assert!(s.is_some_and(|s| s.rss_bytes > 0));
    let at = Instant::now();
    let a = ProcSample {
        cpu_us: 1_000_000,
        rss_bytes: 0,
        sleeps: Some(7),
        at,
    };
    let b = ProcSample {
        cpu_us: 1_500_000,
        rss_bytes: 0,
        sleeps: None,
        at: at + std::time::Duration::from_secs(1),
    };
    assert_eq!(cpu_delta_us(&a, &b), 500_000);
    assert_eq!(cpu_delta_us(&b, &a), 0);
    assert!((cores_used(&a, &b) - 0.5).abs() < 1e-9);
    assert_eq!(sleeps_delta(&a, &b), None);
    assert!(
        s.is_some_and(|s| s.sleeps.is_some()),
        "threads' switches read"
    );
}

#[test]
fn status_voluntary_switches() {
    let status = "Name:\tx\nvoluntary_ctxt_switches:\t1234\nnonvoluntary_ctxt_switches:\t5\n";
    assert_eq!(parse_status_sleeps(status), Some(1234));
    assert_eq!(parse_status_sleeps(STATUS), None);
}
