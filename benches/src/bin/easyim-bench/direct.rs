//! The direct scenario: `--pairs` sender/receiver pairs of one-to-one messages.

use anyhow::Result;
use easyim_proto::ChatType;

use crate::args::Args;
use crate::messages::Conn;
use crate::seed::Seeder;

/// Seeds two users per pair; sender i sends to receiver i, which expects sender i alone.
pub(crate) async fn conns(args: &Args, seeder: &impl Seeder) -> Result<Vec<Conn>> {
    let users = seeder.users(args.pairs * 2).await?;
    let mut conns = Vec::new();
    for i in 0..args.pairs {
        let (s, r) = (users[2 * i].clone(), users[2 * i + 1].clone());
        conns.push(Conn {
            sends: Some((i as u32, r.id.clone(), ChatType::Single)),
            user: s,
            expects: vec![],
        });
        conns.push(Conn {
            user: r,
            sends: None,
            expects: vec![i as u32],
        });
    }
    Ok(conns)
}
