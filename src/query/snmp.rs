//! SNMP (UDP 161): a v2c GetRequest with `-cn`'s community; if the agent is
//! silent (as v1/v2c agents are to a community they do not accept), the SNMPv3
//! engine discovery, which any v3 agent answers whatever the community.

use super::{
    Answer, Block, Ctx, Line, Outcome, Query, Request, Route, Sink, exchange, plain, random_i31, to_json,
};
use crate::error::Error;
use crate::probe::{Evidence, State, udp};
use crate::wire::snmp;
use std::sync::Arc;

#[derive(Debug)]
pub struct Snmp;

impl Query for Snmp {
    fn id(&self) -> &'static str {
        "snmp"
    }
    fn label(&self) -> &'static str {
        "SNMP"
    }
    fn route(&self) -> Route {
        Route { services: &["snmp"], ports: &[161], transports: super::UDP }
    }
    fn request(&self, ctx: &Ctx, _tcp: bool) -> Request {
        let id = random_i31();
        let bytes = snmp::emit_get_request(ctx.opts.community.as_bytes(), id, &snmp::SYSTEM_OIDS);
        Request { bytes, token: id as u64 }
    }
    fn answer(&self, _ctx: &Ctx, req: &Request, reply: &[u8]) -> Result<Arc<dyn Answer>, String> {
        Ok(Arc::new(ours(reply, req.token as i32).map_err(|e| e.to_string())?))
    }
    fn udp(&self, ctx: &Ctx, sink: &mut dyn Sink) -> Result<Outcome, Error> {
        let port = ctx.port;
        sink.show(vec![
            Line::Para("community name for query:".into()),
            Line::Para(ctx.opts.community.clone()),
            Line::Para(format!("Sending SNMP query to UDP port {port}...")),
        ]);
        let addr = ctx.target.socket_addr(port);
        let opts = exchange::udp_options(self, ctx);
        let v2c = self.request(ctx, false);
        let first = udp::exchange(addr, &v2c.bytes, &opts)?;
        let (p, req, discovery) = if first.observation.evidence == Evidence::Silence {
            sink.show(vec![
                Line::Para(
                    "No answer to the SNMPv2c query (an agent drops a community name it does not accept)"
                        .into(),
                ),
                Line::Para(format!("Sending SNMPv3 engine discovery to UDP port {port}...")),
            ]);
            let id = random_i31();
            let req = Request { bytes: snmp::emit_discovery(id), token: id as u64 };
            let mut second = udp::exchange(addr, &req.bytes, &opts)?;
            if second.observation.evidence == Evidence::Silence {
                second.observation.tries += first.observation.tries;
            }
            (second, req, true)
        } else {
            (first, v2c, false)
        };
        let mut outcome = Outcome::new(self.id(), State::Filtered);
        outcome.observation = Some(p.observation.clone());
        match &p.reply {
            Some(reply) => {
                exchange::settle(self.label(), &mut outcome, reply, self.answer(ctx, &req, reply));
                if discovery && outcome.answer.is_some() {
                    outcome.notes.push(Line::Para(
                        "The community name was not accepted, or the agent does not serve SNMPv1/v2c".into(),
                    ));
                }
            }
            // A community-based agent is silent to a community it does not accept, so
            // silence does not show a firewall: the port stays "LISTENING or FILTERED".
            None if p.observation.evidence == Evidence::Silence => {
                outcome.notes.push(Line::Para("No answer to the SNMPv3 engine discovery".into()));
                outcome.state = State::ListeningOrFiltered;
            }
            None => outcome.state = exchange::udp_state(&p.observation.evidence, ctx.target.addr),
        }
        Ok(outcome)
    }
}

/// The reply to request `id`: a v1/v2c message carries it as request-id, a v3 message
/// as msgID. The whole message is decoded before the id is compared, so a mismatch
/// still means "a well-formed SNMP message".
fn ours(reply: &[u8], id: i32) -> Result<snmp::SnmpAnswer, snmp::SnmpError> {
    let answer = snmp::parse_reply(reply)?;
    let (field, found) = answer.echoed_id();
    if found != i64::from(id) {
        return Err(snmp::SnmpError::IdMismatch { field, expected: id, found });
    }
    Ok(answer)
}

fn version_label(v: &str) -> &str {
    match v {
        "v1" => "SNMPv1",
        "v2c" => "SNMPv2c",
        _ => "SNMPv3",
    }
}

impl Answer for snmp::SnmpAnswer {
    fn block(&self) -> Block {
        let head = match &self.engine {
            Some(e) => format!(
                "SNMPv3 agent answered (engine ID {}, engine boots {}, engine time {} s):",
                e.id, e.boots, e.time
            ),
            None => format!("SNMP response ({}):", version_label(self.version)),
        };
        let mut b = vec![Line::Para(head)];
        b.extend(plain(self.render_lines()));
        b.push(Line::Plain(String::new()));
        b
    }
    fn json(&self) -> serde_json::Value {
        to_json(self)
    }
    fn proof(&self) -> Option<String> {
        Some(if self.version == "v3" {
            format!("an SNMPv3 {} carrying our msgID", self.pdu)
        } else {
            format!("an {} {} carrying our request-id", version_label(self.version), self.pdu)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// net-snmp's v3 Report (msgID 0x5101) and v2c Response (request-id 0x5101), captured.
    const V3_REPORT: &[u8] = include_bytes!("../../fuzz/seeds/snmp_response/real-snmpd-v3-report.bin");
    const V2C_RESPONSE: &[u8] = include_bytes!("../../fuzz/seeds/snmp_response/real-snmpd-v2c-system.bin");

    #[test]
    fn only_our_id_is_an_answer() {
        let a = ours(V3_REPORT, 0x5101).unwrap();
        assert_eq!(a.version, "v3");
        assert!(a.json().get("msg_id").is_none(), "the msgID is for the check, not the JSON");
        assert_eq!(ours(V2C_RESPONSE, 0x5101).unwrap().version, "v2c");
        assert_eq!(ours(V3_REPORT, 7).unwrap_err().to_string(), "SNMP msgID 20737 does not match ours (7)");
        assert_eq!(
            ours(V2C_RESPONSE, 0x5102).unwrap_err().to_string(),
            "SNMP request-id 20737 does not match ours (20738)"
        );
        // A message that does not decode is refused as such, whatever its id.
        assert!(matches!(ours(&V2C_RESPONSE[..20], 0x5102), Err(snmp::SnmpError::Ber(_))));
    }
}
