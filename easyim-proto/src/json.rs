//! The JSON form of [`Msg`] (protocol.md section 1).
//!
//! Output: every field by its protobuf name, enums as integers; `access_token`, `ref_id`,
//! `edited_at` and `recalled` only when set (so frames without them read as before).
//! Input: a missing or `null` field is zero, unknown keys are ignored, enums may be integers or
//! their names, 64-bit integers (`timestamp`, `conv_seq`) may also be decimal strings (as
//! proto3's JSON mapping writes them), and any other type mismatch is an error (`"seq":"7"`
//! included).

use std::fmt;

use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::msg::{ChatType, MsgStatus, MsgType};
use crate::Msg;

impl Serialize for Msg {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let with_token = !self.access_token.is_empty();
        let extra = [
            with_token,
            !self.ref_id.is_empty(),
            self.edited_at != 0,
            self.recalled,
        ];
        let len = 10 + extra.iter().filter(|&&b| b).count();
        let mut st = s.serialize_struct("Msg", len)?;
        st.serialize_field("id", &self.id)?;
        st.serialize_field("seq", &self.seq)?;
        st.serialize_field("from_user_id", &self.from_user_id)?;
        st.serialize_field("to_user_id", &self.to_user_id)?;
        st.serialize_field("chat_type", &self.chat_type)?;
        st.serialize_field("msg_type", &self.msg_type)?;
        st.serialize_field("status", &self.status)?;
        st.serialize_field("content", &self.content)?;
        if with_token {
            st.serialize_field("access_token", &self.access_token)?;
        }
        st.serialize_field("timestamp", &self.timestamp)?;
        st.serialize_field("conv_seq", &self.conv_seq)?;
        if !self.ref_id.is_empty() {
            st.serialize_field("ref_id", &self.ref_id)?;
        }
        if self.edited_at != 0 {
            st.serialize_field("edited_at", &self.edited_at)?;
        }
        if self.recalled {
            st.serialize_field("recalled", &self.recalled)?;
        }
        st.end()
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Field {
    Id,
    Seq,
    FromUserId,
    ToUserId,
    ChatType,
    MsgType,
    Status,
    Content,
    AccessToken,
    Timestamp,
    ConvSeq,
    RefId,
    EditedAt,
    Recalled,
    #[serde(other)]
    Unknown,
}

impl<'de> Deserialize<'de> for Msg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(MsgVisitor)
    }
}

struct MsgVisitor;

impl<'de> Visitor<'de> for MsgVisitor {
    type Value = Msg;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object with the fields of Msg")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Msg, A::Error> {
        let mut m = Msg::default();
        while let Some(key) = map.next_key::<Field>()? {
            match key {
                Field::Id => m.id = opt_string(&mut map)?,
                Field::FromUserId => m.from_user_id = opt_string(&mut map)?,
                Field::ToUserId => m.to_user_id = opt_string(&mut map)?,
                Field::Content => m.content = opt_string(&mut map)?,
                Field::AccessToken => m.access_token = opt_string(&mut map)?,
                Field::RefId => m.ref_id = opt_string(&mut map)?,
                Field::Recalled => m.recalled = map.next_value::<Option<bool>>()?.unwrap_or(false),
                Field::EditedAt => {
                    let v: Int<true> = map.next_value()?;
                    m.edited_at = i64::try_from(v.0)
                        .map_err(|_| de::Error::custom("edited_at is out of the int64 range"))?;
                }
                Field::Seq => {
                    // A 32-bit integer is a JSON number in proto3's JSON mapping; only the
                    // 64-bit ones may come as strings, so "seq":"7" is a client bug to report.
                    let v: Int<false> = map.next_value()?;
                    m.seq = u32::try_from(v.0)
                        .map_err(|_| de::Error::custom("seq is out of the uint32 range"))?;
                }
                Field::Timestamp => {
                    let v: Int<true> = map.next_value()?;
                    m.timestamp = i64::try_from(v.0)
                        .map_err(|_| de::Error::custom("timestamp is out of the int64 range"))?;
                }
                Field::ConvSeq => {
                    let v: Int<true> = map.next_value()?;
                    m.conv_seq = u64::try_from(v.0)
                        .map_err(|_| de::Error::custom("conv_seq is out of the uint64 range"))?;
                }
                Field::ChatType => {
                    m.chat_type = map.next_value::<EnumValue<ChatTypeNames>>()?.0;
                }
                Field::MsgType => m.msg_type = map.next_value::<EnumValue<MsgTypeNames>>()?.0,
                Field::Status => m.status = map.next_value::<EnumValue<StatusNames>>()?.0,
                Field::Unknown => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(m)
    }
}

fn opt_string<'de, A: MapAccess<'de>>(map: &mut A) -> Result<String, A::Error> {
    Ok(map.next_value::<Option<String>>()?.unwrap_or_default())
}

/// An integer given as a JSON number, or also as a decimal string when `STRINGS` is set (the
/// 64-bit fields); `null` is zero.
struct Int<const STRINGS: bool>(i128);

impl<'de, const STRINGS: bool> Deserialize<'de> for Int<STRINGS> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<const STRINGS: bool>;
        impl<const STRINGS: bool> Visitor<'_> for V<STRINGS> {
            type Value = Int<STRINGS>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                if STRINGS {
                    f.write_str("an integer or a decimal string")
                } else {
                    f.write_str("an integer")
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Int(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Int(v.into()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                if !STRINGS {
                    return Err(E::invalid_type(de::Unexpected::Str(v), &self));
                }
                v.parse::<i128>()
                    .map(Int)
                    .map_err(|_| E::custom(format!("{v:?} is not an integer")))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Int(0))
            }
        }
        d.deserialize_any(V::<STRINGS>)
    }
}

/// The names an enum accepts on input.
trait EnumNames {
    const WHAT: &'static str;
    fn from_name(name: &str) -> Option<i32>;
}

struct ChatTypeNames;
impl EnumNames for ChatTypeNames {
    const WHAT: &'static str = "chat_type";
    fn from_name(name: &str) -> Option<i32> {
        ChatType::from_str_name(name).map(|v| v as i32)
    }
}

struct MsgTypeNames;
impl EnumNames for MsgTypeNames {
    const WHAT: &'static str = "msg_type";
    fn from_name(name: &str) -> Option<i32> {
        MsgType::from_str_name(name).map(|v| v as i32)
    }
}

struct StatusNames;
impl EnumNames for StatusNames {
    const WHAT: &'static str = "status";
    fn from_name(name: &str) -> Option<i32> {
        MsgStatus::from_str_name(name).map(|v| v as i32)
    }
}

/// An enum given as its number or its name.
struct EnumValue<N>(i32, std::marker::PhantomData<N>);

impl<'de, N: EnumNames> Deserialize<'de> for EnumValue<N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<N>(std::marker::PhantomData<N>);
        impl<N: EnumNames> Visitor<'_> for V<N> {
            type Value = EnumValue<N>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a {} number or name", N::WHAT)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                // Any int32 is accepted, as protobuf's open enums do; the session
                // decides what an unknown value means (E_BAD_MSG).
                i32::try_from(v)
                    .map(|n| EnumValue(n, std::marker::PhantomData))
                    .map_err(|_| E::custom(format!("{v} is out of the {} range", N::WHAT)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                match i64::try_from(v) {
                    Ok(v) => self.visit_i64(v),
                    Err(_) => Err(E::custom(format!("{v} is not a valid {}", N::WHAT))),
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                N::from_name(v)
                    .map(|n| EnumValue(n, std::marker::PhantomData))
                    .ok_or_else(|| E::custom(format!("{v:?} is not a {} name", N::WHAT)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(EnumValue(0, std::marker::PhantomData))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}
