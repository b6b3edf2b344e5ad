//! Deterministic input generators shared by the differential tests (a small SplitMix64 PRNG, so no
//! extra dependency and the same inputs on every run).
#![allow(dead_code)]

/// SplitMix64.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

fn ipv4_part(r: &mut Rng, max: u64) -> String {
    let v = match r.below(6) {
        0 => r.below(256),
        1 => r.below(10),
        2 => r.below(max.max(1)),
        3 => max.saturating_sub(1) + r.below(3),
        4 => r.next() >> r.below(64),
        _ => r.below(1000),
    };
    match r.below(10) {
        0..=5 => v.to_string(),
        6 | 7 => {
            let h = format!("{v:x}");
            let h = if r.chance(30) { h.to_uppercase() } else { h };
            let z = if r.chance(10) { "00" } else { "" };
            format!("{}{z}{h}", if r.chance(5) { "0X" } else { "0x" })
        }
        _ => format!("0{v:o}"),
    }
}

/// IPv4 text in every POSIX form, with mutations.
pub fn ipv4_text(r: &mut Rng) -> String {
    let n = [1, 2, 3, 4, 4, 4, 4, 5][r.below(8) as usize];
    let mut parts = Vec::new();
    for i in 0..n {
        let max = if i + 1 == n {
            1u64 << (8 * (5 - n.min(4)))
        } else {
            256
        };
        parts.push(ipv4_part(r, max));
    }
    let s = parts.join(".");
    mutate(r, s, b"0123456789abcxX. \n")
}

fn mutate(r: &mut Rng, mut s: String, alphabet: &[u8]) -> String {
    if !r.chance(25) {
        return s;
    }
    match r.below(9) {
        0 => s.push('\n'),
        1 => s.insert(0, ' '),
        2 => s.push_str(r.pick(&["\n\n", "\r\n", " ", ".", "%eth0", " junk"])),
        3 if !s.is_empty() => {
            let i = r.below(s.len() as u64) as usize;
            if s.is_char_boundary(i) && s.is_char_boundary(i + 1) {
                s.remove(i);
            }
        }
        4 => {
            let i = r.below(s.len() as u64 + 1) as usize;
            if s.is_char_boundary(i) {
                s.insert(i, r.pick(alphabet) as char);
            }
        }
        5 => s = format!("[{s}]"),
        6 => s = s.replace('.', ".."),
        7 => s.insert_str(0, r.pick(&["0", "00", "+", "-"])),
        _ => s.push_str(r.pick(&["\u{a0}", "\t", "٣"])),
    }
    s
}

fn group(r: &mut Rng, g: u16) -> String {
    match r.below(8) {
        0 => format!("{g:04x}"),
        1 => format!("{g:X}"),
        2 if r.chance(20) => format!("0{g:04x}"),
        _ => format!("{g:x}"),
    }
}

pub fn ipv6_bytes(r: &mut Rng) -> [u8; 16] {
    let mut b = [0u8; 16];
    match r.below(10) {
        0 => {
            // 0::/64 and the mixed-notation prefixes.
            let pre: &[u8] = r.pick(&[
                &[0u8; 12][..],
                &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff],
                &[0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0],
            ]);
            b[..12].copy_from_slice(pre);
            for x in &mut b[12..] {
                if r.chance(60) {
                    *x = r.next() as u8;
                }
            }
        }
        1 => {
            for x in &mut b[8..] {
                if r.chance(30) {
                    *x = r.next() as u8;
                }
            }
        }
        _ => {
            for g in 0..8 {
                if r.chance(55) {
                    let v = if r.chance(50) {
                        r.below(16) as u16
                    } else {
                        r.next() as u16
                    };
                    b[2 * g..2 * g + 2].copy_from_slice(&v.to_be_bytes());
                }
            }
        }
    }
    b
}

/// IPv6 text: random groups, a `::` somewhere (or none), maybe an IPv4 tail, with mutations.
pub fn ipv6_text(r: &mut Rng) -> String {
    let b = ipv6_bytes(r);
    let groups: Vec<u16> = (0..8)
        .map(|i| u16::from_be_bytes([b[2 * i], b[2 * i + 1]]))
        .collect();
    let tail = r.chance(25);
    let ng = if tail { 6 } else { 8 };
    let mut texts: Vec<String> = groups[..ng].iter().map(|&g| group(r, g)).collect();
    if tail {
        let t = if r.chance(70) {
            format!("{}.{}.{}.{}", b[12], b[13], b[14], b[15])
        } else {
            ipv4_text(r)
        };
        texts.push(t);
    }
    let len = texts.len();
    let s = if r.chance(70) {
        // Compress a run [a, a+k) (k may be 0 for the B4 form).
        let a = r.below(len as u64 + 1) as usize;
        let k = r.below((len - a) as u64 + 1) as usize;
        let k = if tail && a + k == len {
            k.saturating_sub(1)
        } else {
            k
        };
        format!("{}::{}", texts[..a].join(":"), texts[a + k..].join(":"))
    } else {
        texts.join(":")
    };
    mutate(r, s, b"0123456789abcdefABCDEF:.g% \n")
}

pub fn hostname(r: &mut Rng) -> String {
    r.pick(&[
        "localhost",
        "www.linux.org",
        "a",
        "x-y.example",
        "日本語.jp",
        "bücher.test",
        "host#x",
        "a b",
        "h\tx",
        "unix/",
        "Unix/",
        "127.1",
        "1.2.3.300",
        "abc",
        "de:ad",
        "ab::cd",
        "::1.2.3.4",
    ])
    .to_string()
}

/// `host:port` text in AnyEvent's forms and many near misses.
pub fn hostport_text(r: &mut Rng) -> String {
    if r.chance(5) {
        return r
            .pick(&["/run/s", "/foo:80", "/a b", " /x", "/", "//x:1"])
            .to_string();
    }
    let host = match r.below(6) {
        0 | 1 => hostname(r),
        2 => ipv4_text(r),
        3 | 4 => ipv6_text(r),
        _ => String::new(),
    };
    let host = match r.below(5) {
        0 | 1 => format!("[{host}]"),
        _ => host,
    };
    let sep = r.pick(&[
        ":", ":", ":", " ", " ", "#", "\t", "  ", "\u{a0}", "", "::", " : ", "\n",
    ]);
    let port = r.pick(&[
        "80",
        "443",
        "0",
        "65535",
        "65536",
        "70000",
        "-1",
        "http",
        "https=443",
        "x=y",
        "=80",
        "80x",
        "]",
        "/path",
        "/run/s",
        "٨٠",
        "a:b",
        "",
        "http=99999",
        "smtp",
        "08080",
    ]);
    let mut s = if r.chance(15) {
        host
    } else {
        format!("{host}{sep}{port}")
    };
    if r.chance(10) {
        s.insert_str(0, r.pick(&[" ", "\t", "\u{a0}", "  "]));
    }
    if r.chance(10) {
        s.push_str(r.pick(&[" ", "\n", "\u{2028}", " x", "\r\n"]));
    }
    s
}

pub fn default_service(r: &mut Rng) -> Option<&'static str> {
    r.pick(&[
        None,
        None,
        Some("80"),
        Some("d"),
        Some(""),
        Some("0"),
        Some("https=443"),
        Some("a b"),
    ])
}
