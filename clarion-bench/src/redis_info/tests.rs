//! Unit tests of `redis_info.rs`.

use super::*;

#[tokio::test]
async fn replies_of_every_kind_parse() {
    let wire: &[u8] = b"*4\r\n$5\r\nhello\r\n:42\r\n$-1\r\n+OK\r\n";
    let mut r = BufReader::new(wire);
    assert_eq!(
        read_reply(&mut r).await,
        Ok(Reply::Array(vec![
            Reply::Text("hello".to_owned()),
            Reply::Int(42),
            Reply::Nil,
            Reply::Text("OK".to_owned()),
        ]))
    );
    let mut err = BufReader::new(&b"-ERR unknown\r\n"[..]);
    assert!(read_reply(&mut err).await.is_err());
}

#[test]
fn commands_encode_as_resp_arrays() {
    assert_eq!(
        encode(&["PUBSUB", "NUMSUB", "a:b"]),
        b"*3\r\n$6\r\nPUBSUB\r\n$6\r\nNUMSUB\r\n$3\r\na:b\r\n".to_vec()
    );
}

#[test]
fn counters_come_from_info_and_subtract() {
    let text = "# Stats\r\ntotal_commands_processed:120\r\ntotal_net_output_bytes:9000\r\n\
                # CPU\r\nused_cpu_sys:1.500000\r\nused_cpu_user:0.250000\r\n\
                # Commandstats\r\ncmdstat_publish:calls=100,usec=50,usec_per_call=0.50\r\n\
                cmdstat_subscribe:calls=3,usec=9,usec_per_call=3.00\r\n";
    let before = Counters::from_info(&parse_info(text));
    assert_eq!(before.commands, 120);
    assert_eq!(before.publishes, 100);
    assert_eq!(before.subscribes, 3);
    assert_eq!(before.output_bytes, 9000);
    assert_eq!(before.cpu_us, 1_750_000);
    let after = Counters {
        commands: 150,
        publishes: 110,
        ..before
    };
    let d = before.delta(&after);
    assert_eq!((d.commands, d.publishes, d.cpu_us), (30, 10, 0));
}
