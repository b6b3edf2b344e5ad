//! IP protocols by name: AnyEvent's `getprotobyname`, from a protocols database (`/etc/protocols`).
//!
//! Names are matched without regard to ASCII case, as AnyEvent (which lowercases) does, and the answer
//! carries the database's real name and aliases (B34, fixed: AnyEvent makes up an upper-case alias).
//! Protocol number 0 (`ip`, `hopopt`) is an answer like any other (B21, fixed: AnyEvent's
//! `resolve_sockaddr` croaks "protocol unknown" for it).
//!
//! ```
//! use anysock_core::protocol::{getprotobyname, ProtocolDb};
//!
//! let tcp = getprotobyname("Tcp").unwrap();
//! assert_eq!((tcp.name, tcp.number), ("tcp", 6));
//! assert_eq!(tcp.aliases, ["TCP"]);
//! assert_eq!(getprotobyname("ipv6-icmp").unwrap().aliases, ["IPv6-ICMP"]);
//! let db = ProtocolDb::parse("tcp 6 TCP\nudp 17 UDP\n");
//! assert_eq!(db.getprotobyname("UDP").map(|p| p.number), Some(17));
//! ```

use std::sync::LazyLock;

/// One protocol, as found in a [`ProtocolDb`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Protocol<'a> {
    /// The official name (`tcp`).
    pub name: &'a str,
    /// The aliases, as written in the database (`TCP`).
    pub aliases: &'a [String],
    /// The protocol number.
    pub number: u8,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    name: String,
    aliases: Vec<String>,
    number: u8,
}

/// A protocols database, from `/etc/protocols` text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProtocolDb {
    entries: Vec<Entry>,
}

impl ProtocolDb {
    /// Parses `/etc/protocols` text: `name number [aliases...]`, `#` starts a comment, fields are
    /// separated by spaces or tabs. Lines without a name and a number 0-255 are skipped, as the C library
    /// skips them. CRLF line ends are fine.
    pub fn parse(text: &str) -> Self {
        let mut entries = Vec::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut fields = line.split([' ', '\t', '\r']).filter(|f| !f.is_empty());
            let (Some(name), Some(num)) = (fields.next(), fields.next()) else {
                continue;
            };
            if !num.bytes().all(|c| c.is_ascii_digit()) {
                continue;
            }
            let Ok(number) = num.parse::<u8>() else {
                continue;
            };
            entries.push(Entry {
                name: name.to_owned(),
                aliases: fields.map(str::to_owned).collect(),
                number,
            });
        }
        ProtocolDb { entries }
    }

    /// The built-in table (Debian's `/etc/protocols`: ip, icmp, igmp, tcp, udp, ipv6, ipv6-icmp, sctp,
    /// udplite and the rest), for systems without that file.
    pub fn builtin() -> &'static ProtocolDb {
        static DB: LazyLock<ProtocolDb> = LazyLock::new(|| ProtocolDb::parse(BUILTIN_PROTOCOLS));
        &DB
    }

    /// The protocol whose name or alias is `name`, compared without regard to ASCII case.
    pub fn getprotobyname(&self, name: &str) -> Option<Protocol<'_>> {
        self.entries
            .iter()
            .find(|e| {
                e.name.eq_ignore_ascii_case(name)
                    || e.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
            })
            .map(Entry::as_protocol)
    }

    /// The first protocol with number `number`.
    pub fn getprotobynumber(&self, number: u8) -> Option<Protocol<'_>> {
        self.entries
            .iter()
            .find(|e| e.number == number)
            .map(Entry::as_protocol)
    }

    /// All protocols, in file order.
    pub fn iter(&self) -> impl Iterator<Item = Protocol<'_>> {
        self.entries.iter().map(Entry::as_protocol)
    }
}

impl Entry {
    fn as_protocol(&self) -> Protocol<'_> {
        Protocol {
            name: &self.name,
            aliases: &self.aliases,
            number: self.number,
        }
    }
}

/// [`ProtocolDb::getprotobyname`] on the built-in table ([`ProtocolDb::builtin`]).
pub fn getprotobyname(name: &str) -> Option<Protocol<'static>> {
    ProtocolDb::builtin().getprotobyname(name)
}

const BUILTIN_PROTOCOLS: &str = "\
ip 0 IP # internet protocol, pseudo protocol number
hopopt 0 HOPOPT # IPv6 Hop-by-Hop Option [RFC1883]
icmp 1 ICMP # internet control message protocol
igmp 2 IGMP # Internet Group Management
ggp 3 GGP # gateway-gateway protocol
ipencap 4 IP-ENCAP # IP encapsulated in IP (officially ``IP'')
st 5 ST # ST datagram mode
tcp 6 TCP # transmission control protocol
egp 8 EGP # exterior gateway protocol
igp 9 IGP # any private interior gateway (Cisco)
pup 12 PUP # PARC universal packet protocol
udp 17 UDP # user datagram protocol
hmp 20 HMP # host monitoring protocol
xns-idp 22 XNS-IDP # Xerox NS IDP
rdp 27 RDP # reliable datagram protocol
iso-tp4 29 ISO-TP4 # ISO Transport Protocol class 4 [RFC905]
dccp 33 DCCP # Datagram Congestion Control Prot. [RFC4340]
xtp 36 XTP # Xpress Transfer Protocol
ddp 37 DDP # Datagram Delivery Protocol
idpr-cmtp 38 IDPR-CMTP # IDPR Control Message Transport
ipv6 41 IPv6 # Internet Protocol, version 6
ipv6-route 43 IPv6-Route # Routing Header for IPv6
ipv6-frag 44 IPv6-Frag # Fragment Header for IPv6
idrp 45 IDRP # Inter-Domain Routing Protocol
rsvp 46 RSVP # Reservation Protocol
gre 47 GRE # General Routing Encapsulation
esp 50 IPSEC-ESP # Encap Security Payload [RFC2406]
ah 51 IPSEC-AH # Authentication Header [RFC2402]
skip 57 SKIP # SKIP
ipv6-icmp 58 IPv6-ICMP # ICMP for IPv6
ipv6-nonxt 59 IPv6-NoNxt # No Next Header for IPv6
ipv6-opts 60 IPv6-Opts # Destination Options for IPv6
rspf 73 RSPF CPHB # Radio Shortest Path First (officially CPHB)
vmtp 81 VMTP # Versatile Message Transport
eigrp 88 EIGRP # Enhanced Interior Routing Protocol (Cisco)
ospf 89 OSPFIGP # Open Shortest Path First IGP
ax.25 93 AX.25 # AX.25 frames
ipip 94 IPIP # IP-within-IP Encapsulation Protocol
etherip 97 ETHERIP # Ethernet-within-IP Encapsulation [RFC3378]
encap 98 ENCAP # Yet Another IP encapsulation [RFC1241]
pim 103 PIM # Protocol Independent Multicast
ipcomp 108 IPCOMP # IP Payload Compression Protocol
vrrp 112 VRRP # Virtual Router Redundancy Protocol [RFC5798]
l2tp 115 L2TP # Layer Two Tunneling Protocol [RFC2661]
isis 124 ISIS # IS-IS over IPv4
sctp 132 SCTP # Stream Control Transmission Protocol
fc 133 FC # Fibre Channel
mobility-header 135 Mobility-Header # Mobility Support for IPv6 [RFC3775]
udplite 136 UDPLite # UDP-Lite [RFC3828]
mpls-in-ip 137 MPLS-in-IP # MPLS-in-IP [RFC4023]
manet 138 # MANET Protocols [RFC5498]
hip 139 HIP # Host Identity Protocol
shim6 140 Shim6 # Shim6 Protocol [RFC5533]
wesp 141 WESP # Wrapped Encapsulating Security Payload
rohc 142 ROHC # Robust Header Compression
ethernet 143 Ethernet # Ethernet encapsulation for SRv6 [RFC8986]
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_names_and_aliases() {
        for (name, num, alias) in [
            ("tcp", 6, "TCP"),
            ("udp", 17, "UDP"),
            ("icmp", 1, "ICMP"),
            ("sctp", 132, "SCTP"),
            ("ip", 0, "IP"),
            ("ipv6-icmp", 58, "IPv6-ICMP"),
        ] {
            let p = getprotobyname(name).unwrap();
            assert_eq!((p.name, p.number), (name, num));
            assert_eq!(p.aliases, [alias]);
            assert_eq!(getprotobyname(&name.to_uppercase()).unwrap().number, num);
        }
        assert_eq!(getprotobyname("IPv6-ICMP").unwrap().name, "ipv6-icmp");
        assert!(getprotobyname(" tcp").is_none());
        assert!(getprotobyname("nosuch").is_none());
        assert_eq!(
            ProtocolDb::builtin().getprotobynumber(17).unwrap().name,
            "udp"
        );
    }

    #[test]
    fn parse_skips_bad_lines() {
        let db = ProtocolDb::parse("# c\ntcp 6 TCP # x\r\nbad\nbig 256\nneg -1\nudp\t17\tUDP\n");
        assert_eq!(db.iter().count(), 2);
        assert_eq!(db.getprotobyname("udp").unwrap().aliases, ["UDP"]);
    }
}
