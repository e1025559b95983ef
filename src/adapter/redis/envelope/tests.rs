//! The envelope's wire form: round trips and the exact short field names.

use super::*;

#[test]
fn event_envelope_round_trips() {
    let e = Envelope::Event {
        node: 7,
        app: "app".to_owned(),
        channel: "orders".to_owned(),
        except: Some("1.2".to_owned()),
        frame: r#"{"event":"e","channel":"orders","data":"{}"}"#.to_owned(),
    };
    let text = serde_json::to_string(&e).expect("serialise");
    assert!(text.starts_with(r#"{"t":"event","n":7"#), "{text}");
    assert_eq!(serde_json::from_str::<Envelope>(&text).expect("parse"), e);
}

#[test]
fn member_survives_the_wire() {
    let m = Member::from_channel_data(r#"{"user_id":5,"user_info":{"a":1}}"#).expect("member");
    let back: Member = WireMember::from(&m).into();
    assert_eq!(back, m);
}

#[test]
fn wire_names_stay_short_and_stable() {
    let e = Envelope::Event {
        node: 7,
        app: "app".to_owned(),
        channel: "orders".to_owned(),
        except: None,
        frame: "{}".to_owned(),
    };
    assert_eq!(
        serde_json::to_string(&e).expect("serialise"),
        r#"{"t":"event","n":7,"a":"app","c":"orders","f":"{}"}"#
    );
    let m = Member::from_channel_data(r#"{"user_id":5}"#).expect("member");
    let join = Envelope::Join {
        node: 1,
        app: "app".to_owned(),
        channel: "presence-x".to_owned(),
        member: WireMember::from(&m),
    };
    assert_eq!(
        serde_json::to_string(&join).expect("serialise"),
        r#"{"t":"join","n":1,"a":"app","c":"presence-x","m":{"id":"5","j":"5"}}"#
    );
    let reply = r#"{"t":"reply","n":2,"to":1,"id":9,"r":{"k":"connections","count":3}}"#;
    assert_eq!(
        serde_json::from_str::<Envelope>(reply).expect("parse"),
        Envelope::Reply {
            node: 2,
            to: 1,
            id: 9,
            answer: Answer::Connections { count: 3 },
        }
    );
}

#[test]
fn online_status_envelopes_have_short_stable_names() {
    let online = Envelope::Online {
        node: 3,
        app: "app".to_owned(),
        user: "42".to_owned(),
    };
    assert_eq!(
        serde_json::to_string(&online).expect("serialise"),
        r#"{"t":"online","n":3,"a":"app","u":"42"}"#
    );
    let offline = r#"{"t":"offline","n":3,"a":"app","u":"42"}"#;
    assert_eq!(
        serde_json::from_str::<Envelope>(offline).expect("parse"),
        Envelope::Offline {
            node: 3,
            app: "app".to_owned(),
            user: "42".to_owned(),
        }
    );
    let signed_in = Envelope::SignedIn {
        node: 3,
        app: "app".to_owned(),
        users: vec!["1".to_owned(), "2".to_owned()],
    };
    let text = serde_json::to_string(&signed_in).expect("serialise");
    assert_eq!(text, r#"{"t":"signed_in","n":3,"a":"app","u":["1","2"]}"#);
    assert_eq!(signed_in.sender(), 3);
    // A missing list reads as "nobody".
    assert_eq!(
        serde_json::from_str::<Envelope>(r#"{"t":"signed_in","n":3,"a":"app"}"#).expect("parse"),
        Envelope::SignedIn {
            node: 3,
            app: "app".to_owned(),
            users: Vec::new(),
        }
    );
}
