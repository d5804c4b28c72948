//! The SQL Server Browser (UDP 1434): CLNT_UCAST_EX ([MC-SQLR]) and the
//! instance list it answers.

use super::{Answer, Block, Ctx, Line, Query, Request, Route, plain, to_json};
use crate::wire::ssrp;
use std::sync::Arc;

#[derive(Debug)]
pub struct SqlBrowser;

impl Query for SqlBrowser {
    fn id(&self) -> &'static str {
        "sql_browser"
    }
    fn label(&self) -> &'static str {
        "SQL Server"
    }
    fn route(&self) -> Route {
        Route { services: &["ms-sql-m"], ports: &[1434], transports: super::UDP }
    }
    fn request(&self, _ctx: &Ctx, _tcp: bool) -> Request {
        Request { bytes: ssrp::emit_ucast_ex(), token: 0 }
    }
    fn answer(&self, _ctx: &Ctx, _req: &Request, reply: &[u8]) -> Result<Arc<dyn Answer>, String> {
        Ok(Arc::new(ssrp::parse_response(reply).map_err(|e| e.to_string())?))
    }
}

impl Answer for ssrp::SqlBrowserAnswer {
    fn block(&self) -> Block {
        let mut b = vec![Line::Para("Server's response:".into())];
        b.extend(plain(self.render_lines()));
        b.push(Line::Plain(String::new()));
        b.push(Line::Para("==== End of SQL Server query response ====".into()));
        b
    }
    fn json(&self) -> serde_json::Value {
        to_json(self)
    }
}
