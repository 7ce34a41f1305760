//! Tests of the node key on disk: concurrent first runs, planted links, empty keys, a full disk.

use super::*;
use std::os::unix::fs::PermissionsExt;

fn is_root() -> bool {
    safefs::euid() == 0
}

#[test]
fn concurrent_first_runs_all_get_the_same_key() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let prints: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..32)
            .map(|_| s.spawn(|| NodeKey::load_or_create(&state).map(|k| k.fingerprint())))
            .collect();
        hs.into_iter()
            .map(|h| {
                h.join()
                    .unwrap()
                    .expect("every concurrent first run succeeds")
            })
            .collect()
    });
    assert!(prints.iter().all(|p| p == &prints[0]), "{prints:?}");
    let names: Vec<String> = fs::read_dir(&state)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names.len(),
        2,
        "the key, its .pub and no temp file: {names:?}"
    );
}

#[test]
fn planted_links_and_loose_keys_are_refused_or_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let victim = tmp.path().join("victim");
    fs::write(&victim, b"precious\n").unwrap();
    let state = tmp.path().join("state");
    fs::create_dir(&state).unwrap();
    fs::set_permissions(&state, fs::Permissions::from_mode(0o700)).unwrap();
    // A planted .pub link is replaced, its target untouched.
    std::os::unix::fs::symlink(&victim, state.join("node_ed25519.pub")).unwrap();
    let k = NodeKey::load_or_create(&state).unwrap();
    assert_eq!(fs::read(&victim).unwrap(), b"precious\n");
    let pubf = state.join("node_ed25519.pub");
    assert!(fs::symlink_metadata(&pubf).unwrap().is_file());
    assert!(
        fs::read_to_string(&pubf)
            .unwrap()
            .starts_with("ssh-ed25519 ")
    );
    // A key readable by others is refused with the chmod that fixes it.
    let key = state.join(NODE_KEY_FILE);
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    let e = NodeKey::load_or_create(&state).unwrap_err().to_string();
    assert!(e.contains(&format!("chmod 600 {}", key.display())), "{e}");
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
    // A key reached through a link is refused.
    let real = tmp.path().join("real_key");
    fs::rename(&key, &real).unwrap();
    std::os::unix::fs::symlink(&real, &key).unwrap();
    let e = NodeKey::load_or_create(&state).unwrap_err().to_string();
    assert!(e.contains("symlink"), "{e}");
    fs::remove_file(&key).unwrap();
    fs::rename(&real, &key).unwrap();
    assert_eq!(
        NodeKey::load_or_create(&state).unwrap().fingerprint(),
        k.fingerprint()
    );
    if is_root() {
        // Another user's key, even 0600, is refused.
        rustix::fs::chown(&key, Some(rustix::fs::Uid::from_raw(65534)), None).unwrap();
        let e = NodeKey::load_or_create(&state).unwrap_err().to_string();
        assert!(
            e.contains("owned by uid 65534") && e.contains("chown 0"),
            "{e}"
        );
        rustix::fs::chown(&key, Some(rustix::fs::Uid::from_raw(0)), None).unwrap();
        // A state dir owned by another user is refused, and not chmod-ed.
        rustix::fs::chown(&state, Some(rustix::fs::Uid::from_raw(65534)), None).unwrap();
        let e = NodeKey::load_or_create(&state).unwrap_err().to_string();
        assert!(e.contains("owned by uid 65534"), "{e}");
    }
}

#[test]
fn an_empty_key_says_what_to_do_and_replace_makes_a_new_one() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let old = NodeKey::load_or_create(&state).unwrap();
    let key = state.join(NODE_KEY_FILE);
    fs::write(&key, b"").unwrap();
    let e = NodeKey::load_or_create(&state).unwrap_err().to_string();
    assert!(
        e.contains("empty") && e.contains("rcdiag-agent key new"),
        "{e}"
    );
    let (new, replaced) = NodeKey::replace(&state).unwrap();
    assert_ne!(new.fingerprint(), old.fingerprint());
    assert_eq!(replaced.previous_fingerprint, None);
    assert!(replaced.reason.contains("unusable"), "{}", replaced.reason);
    assert_eq!(
        NodeKey::load_or_create(&state).unwrap().fingerprint(),
        new.fingerprint()
    );
    let (_, again) = NodeKey::replace(&state).unwrap();
    assert_eq!(again.previous_fingerprint, Some(new.fingerprint()));
}

#[test]
fn a_full_disk_leaves_no_key_and_the_next_run_works() {
    if !is_root() {
        eprintln!("SKIPPED a_full_disk_leaves_no_key: needs root to mount a small tmpfs");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mnt = tmp.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("RCDIAG_REQUIRE_PEERS").is_none(),
            "cannot mount a tmpfs for the full-disk test"
        );
        eprintln!("SKIPPED a_full_disk_leaves_no_key: mount -t tmpfs failed");
        return;
    }
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(self.0).status();
        }
    }
    let _guard = Unmount(&mnt);
    let state = mnt.join("state");
    fs::create_dir(&state).unwrap();
    // Fill the file system.
    let mut filler = fs::File::create(mnt.join("filler")).unwrap();
    let block = vec![0u8; 4096];
    while filler.write_all(&block).is_ok() {}
    let _ = filler.sync_all();
    let e = NodeKey::load_or_create(&state).unwrap_err().to_string();
    assert!(e.contains("free some space"), "{e}");
    let left: Vec<_> = fs::read_dir(&state).unwrap().collect();
    assert!(left.is_empty(), "no 0-byte key, no temp file: {left:?}");
    drop(filler);
    fs::remove_file(mnt.join("filler")).unwrap();
    NodeKey::load_or_create(&state).expect("the next run creates the key");
}
