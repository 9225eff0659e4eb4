//! `/routez`, `/gatewayz`, `/leafz`: well-formed and empty until routes, gateways and leaf
//! nodes exist.

use std::collections::BTreeMap;

use serde::Serialize;

use super::format::rfc3339;
use super::{pretty, Monitor};

#[derive(Serialize)]
struct Routez<'a> {
    server_id: &'a str,
    now: String,
    num_routes: u32,
    routes: [(); 0],
}

#[derive(Serialize)]
struct Gatewayz<'a> {
    server_id: &'a str,
    now: String,
    outbound_gateways: BTreeMap<String, ()>,
    inbound_gateways: BTreeMap<String, ()>,
}

#[derive(Serialize)]
struct Leafz<'a> {
    server_id: &'a str,
    now: String,
    leafnodes: u32,
    /// `null`, as the reference writes an empty list of leaf nodes.
    leafs: Option<[(); 0]>,
}

fn header(m: &Monitor) -> (String, String) {
    m.inspect(|node, clock| (node.info().server_id.clone(), rfc3339(clock.wall)))
}

pub fn routez(m: &Monitor) -> Vec<u8> {
    let (id, now) = header(m);
    pretty(&Routez {
        server_id: &id,
        now,
        num_routes: 0,
        routes: [],
    })
}

pub fn gatewayz(m: &Monitor) -> Vec<u8> {
    let (id, now) = header(m);
    pretty(&Gatewayz {
        server_id: &id,
        now,
        outbound_gateways: BTreeMap::new(),
        inbound_gateways: BTreeMap::new(),
    })
}

pub fn leafz(m: &Monitor) -> Vec<u8> {
    let (id, now) = header(m);
    pretty(&Leafz {
        server_id: &id,
        now,
        leafnodes: 0,
        leafs: None,
    })
}
