//! The `console` backend: each message printed on standard output, as the
//! server would receive it, between dashed lines (as Django's).

pub(super) fn print(message: &lettre::Message) {
    let text = String::from_utf8_lossy(&message.formatted()).replace("\r\n", "\n");
    println!("{text}\n{}", "-".repeat(79));
}
