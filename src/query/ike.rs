//! IKE (UDP 500): one IKEv2 IKE_SA_INIT request, never completed; only a reply
//! carrying our initiator SPI counts.
//!
//! The source port: PortQry always wants 500, because IKEv1 responders may
//! answer only that port; current IKEv2 responders (strongSwan, Windows) answer
//! any port (NAT traversal), and binding 500 needs root and a port no local IKE
//! daemon holds. So 500 is used only when `-sp 500` asks for it (with PortQry's
//! message when it is taken); otherwise the port is ephemeral and silence is
//! followed by a hint to try `-sp 500`.

use super::dialog::{Dialog, HostSocket};
use super::{Answer, Block, Ctx, Line, Outcome, Query, Route, Sink, exchange, plain, to_json};
use crate::error::Error;
use crate::probe::Evidence;
use crate::probe::udp::UdpOptions;
use crate::wire::ike;
use std::net::SocketAddr;
use std::sync::Arc;

/// The source port PortQry insists on for IKE (§3.4).
pub const IKE_PORT: u16 = 500;

#[derive(Debug)]
pub struct Ike;

impl Query for Ike {
    fn id(&self) -> &'static str {
        "ike"
    }
    fn label(&self) -> &'static str {
        "IKE"
    }
    fn route(&self) -> Route {
        Route { services: &["isakmp"], ports: &[IKE_PORT], transports: super::UDP }
    }
    fn udp(&self, ctx: &Ctx, sink: &mut dyn Sink) -> Result<Outcome, Error> {
        sink.show(self.announce(ctx));
        let opts = exchange::udp_options(self, ctx);
        let d = match converse(ctx.target.socket_addr(ctx.port), &opts) {
            Err(Error::SourcePortInUse(IKE_PORT)) => return Err(Error::IkeSourcePortInUse),
            r => r?,
        };
        let silent = d.observation.evidence == Evidence::Silence;
        let answer = d.answer.map(|a| a.map(|a| Arc::new(a) as Arc<dyn Answer>));
        let mut outcome = super::dialog::outcome(self, ctx, d.observation, d.reply, answer);
        if silent && ctx.opts.source_port != Some(IKE_PORT) {
            outcome.notes.push(Line::Para(
                "No IKE answer; some IKEv1-only responders answer only source port 500 (run with -sp 500 as root)"
                    .into(),
            ));
        }
        Ok(outcome)
    }
}

/// IKE: one IKE_SA_INIT request; only a reply carrying our initiator SPI
/// counts (another initiator's traffic is not an answer to us). Nothing else is
/// sent: the half-open IKE SA a response creates expires on the responder.
pub fn converse(target: SocketAddr, opts: &UdpOptions) -> Result<Dialog<ike::IkeAnswer>, Error> {
    let sock = HostSocket::open(target, opts.source_port)?;
    let spi = ike::random_spi();
    let carries_spi = |b: &[u8]| b.get(..8) == Some(&spi[..]);
    let (observation, got) = sock.exchange_matching(&ike::emit_sa_init_random(spi), opts, &carries_spi)?;
    let Some((_, bytes)) = got else {
        return Ok(Dialog { observation, reply: None, answer: None });
    };
    let answer = ours(&bytes, spi).map_err(|e| e.to_string());
    Ok(Dialog { observation, reply: Some(bytes), answer: Some(answer) })
}

/// The reply to our IKE_SA_INIT with initiator SPI `spi`. `converse` already let
/// only datagrams starting with it through, so this holds by construction; it is
/// checked again so the answer never names another initiator's exchange.
fn ours(bytes: &[u8], spi: [u8; 8]) -> Result<ike::IkeAnswer, ike::IkeError> {
    let answer = ike::parse_reply(bytes)?;
    if answer.initiator != spi {
        return Err(ike::IkeError::OtherSpi(answer.initiator_spi));
    }
    Ok(answer)
}

impl Answer for ike::IkeAnswer {
    fn block(&self) -> Block {
        let mut b = vec![Line::Para("Server's response:".into())];
        b.extend(plain(self.render_lines()));
        b.push(Line::Plain(String::new()));
        b
    }
    fn json(&self) -> serde_json::Value {
        to_json(self)
    }
    fn proof(&self) -> Option<String> {
        Some(format!(
            "an IKEv{} {} {} carrying our initiator SPI",
            self.version.split('.').next().unwrap_or("?"),
            self.exchange,
            if self.response { "response" } else { "message" }
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// strongSwan's NO_PROPOSAL_CHOSEN to initiator SPI 5101510151015101 (captured).
    const NO_PROPOSAL: &[u8] =
        include_bytes!("../../fuzz/seeds/ike_response/real-strongswan-no-proposal.bin");
    const SPI: [u8; 8] = [0x51, 0x01, 0x51, 0x01, 0x51, 0x01, 0x51, 0x01];

    #[test]
    fn only_our_spi_is_an_answer() {
        let a = ours(NO_PROPOSAL, SPI).unwrap();
        assert_eq!(a.notifies[0].name, "NO_PROPOSAL_CHOSEN");
        // The raw SPI is for the check; JSON keeps only the hex `initiator_spi`.
        assert!(a.json().get("initiator").is_none() && a.json().get("initiator_spi").is_some());
        assert_eq!(
            ours(NO_PROPOSAL, [9; 8]).unwrap_err().to_string(),
            "IKE reply for initiator SPI 5101510151015101, not ours"
        );
        assert_eq!(ours(&NO_PROPOSAL[..27], SPI), Err(ike::IkeError::Truncated));
    }
}
