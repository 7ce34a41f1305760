//! Network interfaces: the agent's own network namespace (`sysinfo`), or, under
//! `--host-root DIR`, the node's, read from files a container without the host network
//! can still see: the interface names and IPv6 addresses of the node's init
//! (`DIR/proc/1/net/dev`, `/net/if_inet6`), its IPv4 addresses (`/net/fib_trie`, matched
//! to an interface through `/net/route`), and MAC, MTU and state from the node's sysfs
//! (`DIR/sys/class/net`, which shows the namespace it was mounted in: used only when it
//! lists the same interfaces). `network_view` says whose interfaces these are.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use sysinfo::Networks;

use super::NetInterface;

/// Most bytes read of one procfs or sysfs network file (a node with many pods has
/// thousands of routes and addresses).
const NET_FILE_MAX: u64 = 4 << 20;

/// Interfaces at most listed from the node's files.
const MAX_INTERFACES: usize = 4096;

/// Reads `path`, at most `NET_FILE_MAX` bytes.
fn read_capped(path: &Path) -> std::io::Result<String> {
    let mut text = String::new();
    fs::File::open(path)?
        .take(NET_FILE_MAX)
        .read_to_string(&mut text)?;
    Ok(text)
}

/// Container-side veth ends without an address are noise.
fn is_noise(name: &str, addresses: &[String]) -> bool {
    name.starts_with("veth") && addresses.is_empty()
}

/// The agent's own interfaces (`sysinfo`, its network namespace).
pub fn own_interfaces(warnings: &mut Vec<String>) -> Vec<NetInterface> {
    let mut out = Vec::new();
    match Networks::new_with_refreshed_list() {
        Ok(nets) => {
            for (name, data) in nets.iter() {
                let name = name.to_string_lossy().into_owned();
                let mut addresses: Vec<String> = data
                    .ip_networks()
                    .iter()
                    .map(|n| format!("{}/{}", n.addr, n.prefix))
                    .collect();
                addresses.sort();
                if is_noise(&name, &addresses) {
                    continue;
                }
                out.push(NetInterface {
                    name: Some(name),
                    mac: Some(data.mac_address().to_string()),
                    addresses,
                    mtu: Some(data.mtu()),
                    state: Some(format!("{:?}", data.operational_state()).to_lowercase()),
                    ..Default::default()
                });
            }
        }
        Err(e) => warnings.push(format!("network interfaces could not be read: {e}")),
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The node's interfaces, from the network files of its init under `proc_root` (the
/// node's procfs) and its sysfs under `root`. An error when the interface list itself
/// cannot be read; the details that cannot be read are left out with a warning.
pub fn node_interfaces(
    proc_root: &Path,
    root: &Path,
    warnings: &mut Vec<String>,
) -> Result<Vec<NetInterface>, String> {
    let net = proc_root.join("1/net");
    let dev_path = net.join("dev");
    let dev = read_capped(&dev_path).map_err(|e| format!("{}: {e}", dev_path.display()))?;
    let names = parse_net_dev(&dev);
    if names.is_empty() {
        return Err(format!("{}: no interface listed", dev_path.display()));
    }
    let mut addresses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    match read_capped(&net.join("if_inet6")) {
        Ok(text) => {
            for (name, addr) in parse_if_inet6(&text) {
                addresses.entry(name).or_default().insert(addr);
            }
        }
        // No IPv6 in the node's kernel: no file, nothing to say.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => warnings.push(format!("the node's IPv6 addresses could not be read: {e}")),
    }
    match (
        read_capped(&net.join("fib_trie")),
        read_capped(&net.join("route")),
    ) {
        (Ok(trie), Ok(route)) => {
            let routes = parse_route(&route);
            for addr in local_ipv4(&trie) {
                if let Some((name, prefix)) = interface_of(addr, &routes) {
                    addresses
                        .entry(name)
                        .or_default()
                        .insert(format!("{addr}/{prefix}"));
                }
            }
        }
        (Err(e), _) | (_, Err(e)) => {
            warnings.push(format!("the node's IPv4 addresses could not be read: {e}"))
        }
    }
    // The node's sysfs shows the namespace it was mounted in: the node's when it lists
    // exactly the interfaces of the node's init.
    let sys = root.join("sys/class/net");
    let sys_names: BTreeSet<String> = fs::read_dir(&sys)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .take(MAX_INTERFACES + 1)
                .collect()
        })
        .unwrap_or_default();
    let want: BTreeSet<String> = names.iter().cloned().collect();
    let use_sys = sys_names == want;
    if !use_sys {
        warnings.push(format!(
            "{} does not list the node's interfaces (another network namespace, or not mounted): their MAC, MTU and \
             state are unknown",
            sys.display()
        ));
    }
    let attr = |name: &str, file: &str| -> Option<String> {
        if !use_sys {
            return None;
        }
        let text = read_capped(&sys.join(name).join(file)).ok()?;
        let v = text.trim();
        (!v.is_empty() && v.len() <= 64 && !v.chars().any(char::is_control)).then(|| v.to_string())
    };
    let mut out = Vec::new();
    for name in names {
        let addrs: Vec<String> = addresses
            .remove(&name)
            .map(|s| s.into_iter().collect())
            .unwrap_or_default();
        if is_noise(&name, &addrs) {
            continue;
        }
        out.push(NetInterface {
            mac: attr(&name, "address"),
            mtu: attr(&name, "mtu").and_then(|m| m.parse().ok()),
            state: attr(&name, "operstate"),
            name: Some(name),
            addresses: addrs,
            ..Default::default()
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// A name that can be an interface's (Linux allows at most 15 bytes, no `/` or space).
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && !name
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '/' || c == ':')
}

/// The interface names of a `/proc/net/dev` text, in its order.
fn parse_net_dev(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines().skip(2) {
        let Some((name, _)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if valid_name(name) && !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
        if out.len() >= MAX_INTERFACES {
            break;
        }
    }
    out
}

/// (interface, `address/prefix`) of a `/proc/net/if_inet6` text.
fn parse_if_inet6(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 6 || f[0].len() != 32 || !valid_name(f[5]) {
            continue;
        }
        let (Ok(bits), Ok(prefix)) = (u128::from_str_radix(f[0], 16), u8::from_str_radix(f[2], 16))
        else {
            continue;
        };
        if prefix > 128 {
            continue;
        }
        out.push((
            f[5].to_string(),
            format!("{}/{prefix}", Ipv6Addr::from(bits)),
        ));
    }
    out
}

/// A route of `/proc/net/route`: interface, destination, mask.
type Route = (String, u32, u32);

/// An address of `/proc/net/route`: hexadecimal of the address's bytes read in the
/// kernel's byte order.
fn route_addr(hex: &str) -> Option<u32> {
    let raw = u32::from_str_radix(hex, 16).ok()?;
    Some(u32::from(Ipv4Addr::from(raw.to_ne_bytes())))
}

/// The routes of a `/proc/net/route` text.
fn parse_route(text: &str) -> Vec<Route> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 || !valid_name(f[0]) {
            continue;
        }
        if let (Some(dest), Some(mask)) = (route_addr(f[1]), route_addr(f[7])) {
            out.push((f[0].to_string(), dest, mask));
        }
    }
    out
}

/// The local IPv4 addresses of a `/proc/net/fib_trie` text (`host LOCAL` leaves).
fn local_ipv4(text: &str) -> BTreeSet<Ipv4Addr> {
    let mut out = BTreeSet::new();
    let mut last: Option<Ipv4Addr> = None;
    for line in text.lines() {
        let t = line.trim();
        if let Some(a) = t.strip_prefix("|-- ") {
            last = a.trim().parse().ok();
        } else if t.starts_with("/32 host LOCAL")
            && let Some(a) = last
        {
            out.insert(a);
        }
    }
    out
}

/// The interface and prefix length of local address `addr`: the most specific connected
/// route (no gateway needed: a route whose destination holds it) other than the default
/// route; loopback addresses are `lo`'s.
fn interface_of(addr: Ipv4Addr, routes: &[Route]) -> Option<(String, u32)> {
    if addr.is_loopback() {
        return Some(("lo".to_string(), 8));
    }
    let a = u32::from(addr);
    routes
        .iter()
        .filter(|(_, dest, mask)| *mask != 0 && a & mask == *dest)
        .max_by_key(|(_, _, mask)| mask.count_ones())
        .map(|(name, _, mask)| (name.clone(), mask.count_ones()))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The texts below are as this machine's kernel (6.1) writes them.
    const DEV: &str = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 3100059038  368946    0    0    0     0          0         0 3100059038  368946    0    0    0     0       0          0
  eth0: 579843561   24238    0    0    0     0          0         0  1653692   17001    0    0    0     0       0          0
vethab12: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
bad line
";

    const ROUTE: &str =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
";

    const TRIE: &str = "Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
     +-- 192.0.2.0/24 2 0 2
           |-- 192.0.2.0
              /24 link UNICAST
           |-- 192.0.2.2
              /32 host LOCAL
        |-- 192.0.2.255
           /32 link BROADCAST
";

    const INET6: &str = "00000000000000000000000000000001 01 80 10 80       lo
fe8000000000000000fc00fffe000001 04 40 20 80     eth0
zz 04 40 20 80     eth0
";

    #[test]
    fn the_node_files_parse() {
        assert_eq!(parse_net_dev(DEV), ["lo", "eth0", "vethab12"]);
        let routes = parse_route(ROUTE);
        assert_eq!(routes.len(), 2);
        let local: Vec<Ipv4Addr> = local_ipv4(TRIE).into_iter().collect();
        assert_eq!(
            local,
            [Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::new(192, 0, 2, 2)]
        );
        assert_eq!(
            interface_of(Ipv4Addr::new(192, 0, 2, 2), &routes),
            Some(("eth0".to_string(), 24))
        );
        assert_eq!(interface_of(Ipv4Addr::new(10, 0, 0, 1), &routes), None);
        assert_eq!(
            parse_if_inet6(INET6),
            [
                ("lo".to_string(), "::1/128".to_string()),
                ("eth0".to_string(), "fe80::fc:ff:fe00:1/64".to_string())
            ]
        );
    }

    #[test]
    fn a_built_node_root_gives_its_interfaces() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let net = r.join("proc/1/net");
        fs::create_dir_all(&net).unwrap();
        fs::write(net.join("dev"), DEV).unwrap();
        fs::write(net.join("route"), ROUTE).unwrap();
        fs::write(net.join("fib_trie"), TRIE).unwrap();
        fs::write(net.join("if_inet6"), INET6).unwrap();
        for (n, mac) in [("lo", "00:00:00:00:00:00"), ("eth0", "02:fc:00:00:00:01")] {
            let d = r.join("sys/class/net").join(n);
            fs::create_dir_all(&d).unwrap();
            fs::write(d.join("address"), format!("{mac}\n")).unwrap();
            fs::write(d.join("mtu"), "1400\n").unwrap();
            fs::write(d.join("operstate"), "up\n").unwrap();
        }
        fs::create_dir_all(r.join("sys/class/net/vethab12")).unwrap();
        let mut w = Vec::new();
        let got = node_interfaces(&r.join("proc"), r, &mut w).unwrap();
        assert!(w.is_empty(), "{w:?}");
        let names: Vec<_> = got.iter().map(|i| i.name.clone().unwrap()).collect();
        assert_eq!(
            names,
            ["eth0", "lo"],
            "the veth without address is left out"
        );
        assert_eq!(got[0].mac.as_deref(), Some("02:fc:00:00:00:01"));
        assert_eq!(got[0].mtu, Some(1400));
        assert_eq!(got[0].state.as_deref(), Some("up"));
        assert_eq!(got[0].addresses, ["192.0.2.2/24", "fe80::fc:ff:fe00:1/64"]);
        assert_eq!(got[1].addresses, ["127.0.0.1/8", "::1/128"]);

        // A sysfs of another namespace: names and addresses stay, the rest is unknown.
        fs::remove_dir_all(r.join("sys/class/net/eth0")).unwrap();
        let mut w = Vec::new();
        let got = node_interfaces(&r.join("proc"), r, &mut w).unwrap();
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(|i| i.mac.is_none() && i.mtu.is_none()));
        assert!(
            w[0].contains("does not list the node's interfaces"),
            "{w:?}"
        );

        // No interface list: an error naming the file.
        fs::remove_file(net.join("dev")).unwrap();
        let e = node_interfaces(&r.join("proc"), r, &mut Vec::new()).unwrap_err();
        assert!(e.contains("1/net/dev"), "{e}");
    }
}
