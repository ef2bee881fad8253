//! A DNS server for nginx's `resolver`: answers every A query with the given addresses, as
//! Docker's resolver answers for a service scaled to several containers.

use std::net::{IpAddr, SocketAddr};

use tokio::net::UdpSocket;

pub struct Resolver {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Resolver {
    pub async fn start(answers: Vec<IpAddr>) -> anyhow::Result<Resolver> {
        let socket = UdpSocket::bind("127.0.0.1:0").await?;
        let addr = socket.local_addr()?;
        let task = tokio::spawn(async move {
            let mut buf = [0u8; 512];
            while let Ok((n, from)) = socket.recv_from(&mut buf).await {
                if let Some(reply) = answer(&buf[..n], &answers) {
                    let _ = socket.send_to(&reply, from).await;
                }
            }
        });
        Ok(Resolver { addr, task })
    }
}

impl Drop for Resolver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The reply to one query: its header and question echoed, then one A record per address.
fn answer(query: &[u8], answers: &[IpAddr]) -> Option<Vec<u8>> {
    // Header (12 bytes), then the question: labels ending in a zero byte, type, class.
    let name_end = 12 + query.get(12..)?.iter().position(|b| *b == 0)? + 1;
    let question = query.get(12..name_end + 4)?;
    let is_a = question[question.len() - 4..question.len() - 2] == [0, 1];
    let records: Vec<[u8; 4]> = if is_a {
        answers
            .iter()
            .filter_map(|ip| match ip {
                IpAddr::V4(v4) => Some(v4.octets()),
                IpAddr::V6(_) => None,
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut reply = Vec::with_capacity(512);
    reply.extend_from_slice(&query[0..2]); // id
    reply.extend_from_slice(&[0x81, 0x80]); // response, recursion desired and available
    reply.extend_from_slice(&[0, 1]); // one question
    reply.extend_from_slice(&(records.len() as u16).to_be_bytes());
    reply.extend_from_slice(&[0, 0, 0, 0]); // no authority or additional records
    reply.extend_from_slice(question);
    for octets in records {
        // The name as a pointer to the question's, type A, class IN, 10 s, 4 bytes.
        reply.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 10, 0, 4]);
        reply.extend_from_slice(&octets);
    }
    Some(reply)
}
