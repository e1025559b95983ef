//! Unit tests of `discover.rs`.

use super::*;

const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 11111 1 0 20 4 30 10 -1\n\
   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 22222 1 0 100 0 0 10 0\n\
   2: 0100007F:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 33333 1 0 100 0 0 10 0\n";

#[test]
fn finds_the_listening_socket_not_an_established_one() {
    // 0x1F90 = 8080: line 0 is an established connection on that port.
    assert_eq!(listening_inode(TCP, 8080), Some(22222));
    assert_eq!(listening_inode(TCP, 80), Some(33333));
    assert_eq!(listening_inode(TCP, 81), None);
    assert_eq!(listening_inode("header only\n", 8080), None);
}

#[test]
fn finds_this_process_listening() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    assert_eq!(listener_pid(port), Some(std::process::id()));
}
