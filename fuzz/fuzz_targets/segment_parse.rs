//! Parses arbitrary UTF-8 as a segment predicate and as a tag rule. Nothing may panic, and
//! whatever parses must print to text that parses back to the same tree (and prints the same).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rapport_core::{Segment, TagRule};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Segment::parse(text) {
        Ok(seg) => {
            let printed = seg.to_string();
            let back = match Segment::parse(&printed) {
                Ok(back) => back,
                Err(e) => panic!("printed {printed:?} of {text:?} does not parse: {e}"),
            };
            assert_eq!(back, seg, "round trip of {text:?} via {printed:?}");
            assert_eq!(back.to_string(), printed);
            let _ = seg.fields();
        }
        Err(e) => {
            assert!(e.column() >= 1 && e.column() <= text.chars().count() + 1);
            let _ = e.to_string();
        }
    }
    if let Ok(rule) = TagRule::parse(text) {
        let printed = rule.to_string();
        let back = match TagRule::parse(&printed) {
            Ok(back) => back,
            Err(e) => panic!("printed {printed:?} of {text:?} does not parse: {e}"),
        };
        assert_eq!(back, rule, "round trip of {text:?} via {printed:?}");
    }
});
