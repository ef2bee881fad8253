//! `azione-mailcatcher`: a development SMTP server on 127.0.0.1 that stores every message it
//! receives as an `.eml` file, so a developer can read the e-mails the worker sends.
//! Usage: `azione-mailcatcher [ADDR] [DIR]` (defaults `127.0.0.1:2525` and `.local/mail`).

use std::{path::PathBuf, time::Duration};

use tests::smtp::SmtpServer;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:2525".to_owned());
    let dir = PathBuf::from(args.next().unwrap_or_else(|| ".local/mail".to_owned()));
    std::fs::create_dir_all(&dir).expect("create the mail folder");
    let server = SmtpServer::start_on(addr.parse().expect("ADDR must be host:port")).await;
    println!(
        "mail catcher on {} writing to {}",
        server.url(),
        dir.display()
    );
    let mut written = 0;
    loop {
        let messages = server.messages();
        for (n, mail) in messages.iter().enumerate().skip(written) {
            let file = dir.join(format!("{:05}-{}.eml", n + 1, mail.to.join(",")));
            std::fs::write(&file, &mail.data).expect("write the message");
            println!(
                "mail for {} saved to {}",
                mail.to.join(", "),
                file.display()
            );
        }
        written = messages.len();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
