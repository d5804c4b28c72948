//! TFTP (UDP 69): a read request for a file that does not exist, over an
//! unconnected socket, since the server answers from a new port (its transfer ID).

use super::dialog::{Dialog, HostSocket, nonce};
use super::{Answer, Block, Ctx, Outcome, Query, Route, Sink, to_json};
use crate::error::Error;
use crate::probe::udp::UdpOptions;
use crate::wire::tftp;
use std::net::SocketAddr;

#[derive(Debug)]
pub struct Tftp;

impl Query for Tftp {
    fn id(&self) -> &'static str {
        "tftp"
    }
    fn label(&self) -> &'static str {
        "TFTP"
    }
    fn route(&self) -> Route {
        Route { services: &["tftp"], ports: &[69], transports: super::UDP }
    }

    fn udp(&self, ctx: &Ctx, sink: &mut dyn Sink) -> Result<Outcome, Error> {
        super::dialog::run(self, ctx, sink, converse)
    }
}

/// TFTP: a read request for a file that does not exist; a DATA or OACK (the
/// name existed after all) is answered with an ERROR to the server's transfer
/// ID, which ends the transfer at once.
pub fn converse(target: SocketAddr, opts: &UdpOptions) -> Result<Dialog<tftp::TftpAnswer>, Error> {
    let sock = HostSocket::open(target, opts.source_port)?;
    let file = tftp::probe_file_name(nonce());
    let (observation, got) = sock.exchange(&tftp::emit_read_request(&file, tftp::MODE_OCTET), opts)?;
    let Some((from, bytes)) = got else {
        return Ok(Dialog { observation, reply: None, answer: None });
    };
    let answer = tftp::parse_reply(&bytes).map_err(|e| e.to_string()).map(|reply| {
        let stop = tftp::stop_transfer(&reply);
        // Best effort: a server that does not get it times the transfer out itself.
        let stopped_with = stop.and_then(|(code, pkt)| sock.send_to(from, &pkt).ok().map(|_| code));
        tftp::TftpAnswer { file, server_port: from.port(), reply, stopped_with }
    });
    Ok(Dialog { observation, reply: Some(bytes), answer: Some(answer) })
}

fn opcode_label(r: &tftp::TftpReply) -> &'static str {
    match r {
        tftp::TftpReply::Error { .. } => "ERROR",
        tftp::TftpReply::Data { .. } => "DATA",
        tftp::TftpReply::Oack { .. } => "OACK",
    }
}

impl Answer for tftp::TftpAnswer {
    fn block(&self) -> Block {
        super::lines(self.render_lines())
    }
    fn json(&self) -> serde_json::Value {
        to_json(self)
    }
    fn proof(&self) -> Option<String> {
        Some(format!(
            "a TFTP {} from port {} (the server's transfer ID)",
            opcode_label(&self.reply),
            self.server_port
        ))
    }
}
