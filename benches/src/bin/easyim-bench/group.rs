//! The group scenario: `--groups` groups of `--members` online members, `--senders` of them
//! sending to the group.

use anyhow::Result;
use easyim_proto::ChatType;

use crate::args::Args;
use crate::messages::Conn;
use crate::seed::Seeder;

/// Seeds the members and the groups; every member expects every sender of its group but
/// itself.
pub(crate) async fn conns(args: &Args, seeder: &impl Seeder) -> Result<Vec<Conn>> {
    let users = seeder.users(args.groups * args.members).await?;
    let mut conns = Vec::new();
    let mut next_sender = 0u32;
    for g in 0..args.groups {
        let members = &users[g * args.members..(g + 1) * args.members];
        let gid = seeder.group(members).await?;
        let senders: Vec<u32> = (0..args.senders.min(members.len()))
            .map(|k| next_sender + k as u32)
            .collect();
        next_sender += senders.len() as u32;
        for (k, u) in members.iter().enumerate() {
            let me = senders.get(k).copied();
            conns.push(Conn {
                user: u.clone(),
                sends: me.map(|s| (s, gid.clone(), ChatType::Group)),
                expects: senders.iter().copied().filter(|s| Some(*s) != me).collect(),
            });
        }
    }
    Ok(conns)
}
