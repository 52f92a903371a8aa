//! Every `ShareStore` method of `S3Store` on a real `SeaweedFS` cluster (three volume servers,
//! replication 001; `common::cluster` starts it), with the objects each leaves checked by
//! listing the bucket.

mod common;

use s3::bucket::Bucket;
use s3::creds::Credentials;
use s3::region::Region;
use tahoe_shares::io::ShareIo;
use tahoe_shares::store::{ShareStore, StoreError};
use tahoe_shares::types::StorageIndex;
use tahoe_shares_s3::{ConditionalWrites, Config, S3ErrorKind, S3Store};

use common::{bytes, cluster, config, set, shared, sn, Cluster};

const SI: StorageIndex = StorageIndex::new([1; 16]);

/// The bucket, for looking at the raw objects.
fn raw(cluster: &Cluster, bucket: &str) -> Box<Bucket> {
    let region = Region::Custom {
        region: "us-east-1".to_string(),
        endpoint: cluster.endpoint.clone(),
    };
    let creds = Credentials::new(
        Some(cluster::ACCESS_KEY),
        Some(cluster::SECRET_KEY),
        None,
        None,
        None,
    )
    .unwrap();
    Bucket::new(bucket, region, creds)
        .unwrap()
        .with_path_style()
}

/// Every key (and size) under `prefix/`, paging past 1000.
fn keys(cfg: &Config) -> Vec<(String, u64)> {
    let b = raw(shared(), &cfg.bucket);
    let mut out = Vec::new();
    for page in b.list(format!("{}/", cfg.prefix), None).unwrap() {
        for o in page.contents {
            out.push((o.key, o.size));
        }
    }
    out.sort();
    out
}

fn small_chunks(chunk: u32) -> (Config, S3Store) {
    let mut cfg = config(shared(), "tahoe");
    cfg.chunk_size = chunk;
    // Superseded chunks go at once, so that the objects left can be counted.
    cfg.superseded_grace = core::time::Duration::ZERO;
    let store = S3Store::open(&cfg).unwrap();
    (cfg, store)
}

fn read_all(io: &mut impl ShareIo<Error = tahoe_shares_s3::S3Error>) -> Vec<u8> {
    let len = io.len().unwrap();
    let mut buf = vec![0; len as usize];
    io.read_at(0, &mut buf).unwrap();
    buf
}

#[test]
fn the_probe_finds_seaweedfs_honours_conditional_writes() {
    let (cfg, store) = small_chunks(1024);
    assert_eq!(store.conditional_writes(), ConditionalWrites::Honoured);
    // The probe's scratch key is gone.
    assert_eq!(keys(&cfg), vec![]);
}

#[test]
fn an_upload_in_any_order_is_published_whole_and_leaves_only_its_objects() {
    // 1 KiB chunks: 40 chunks, past the 8 held in memory, so chunks spill early.
    let (cfg, mut store) = small_chunks(1024);
    let data = bytes(1, 40 * 1024 + 17);
    let mut io = store.create_incoming(&SI, sn(3)).unwrap();
    // Written back to front in 3000-byte pieces (any order, as GBS allows).
    let mut offsets: Vec<usize> = (0..data.len()).step_by(3000).collect();
    offsets.reverse();
    for off in offsets {
        let end = (off + 3000).min(data.len());
        io.write_at(off as u64, &data[off..end]).unwrap();
    }
    io.sync().unwrap();
    drop(io);
    assert_eq!(store.list_incoming(&SI).unwrap(), set(&[3]));
    assert_eq!(store.list(&SI).unwrap(), set(&[]));
    assert!(store.open(&SI, sn(3)).unwrap().is_none());
    let mut seen = Vec::new();
    store
        .for_each_incoming(&mut |si, n| {
            seen.push((si, n));
            true
        })
        .unwrap();
    assert_eq!(seen, vec![(SI, sn(3))]);

    store.put_upload_record(&SI, sn(3), b"record one").unwrap();
    store.put_upload_record(&SI, sn(3), b"record two").unwrap();
    let mut buf = [0u8; 32];
    assert_eq!(
        store.get_upload_record(&SI, sn(3), &mut buf).unwrap(),
        Some(10)
    );
    assert_eq!(&buf[..10], b"record two");
    assert!(matches!(
        store.get_upload_record(&SI, sn(3), &mut [0u8; 4]),
        Err(StoreError::BufferTooSmall { needed: 10 })
    ));

    store.publish(&SI, sn(3)).unwrap();
    assert_eq!(store.list(&SI).unwrap(), set(&[3]));
    assert_eq!(store.list_incoming(&SI).unwrap(), set(&[]));
    assert_eq!(store.get_upload_record(&SI, sn(3), &mut buf).unwrap(), None);
    let mut io = store.open(&SI, sn(3)).unwrap().unwrap();
    assert_eq!(read_all(&mut io), data);
    drop(io);
    // No clobbering, no second publish.
    assert!(matches!(
        store.create_incoming(&SI, sn(3)),
        Err(StoreError::AlreadyExists)
    ));
    assert!(matches!(
        store.publish(&SI, sn(3)),
        Err(StoreError::NoSuchShare)
    ));
    // What is left: the manifest and exactly one object per chunk.
    let names: Vec<String> = keys(&cfg).into_iter().map(|(k, _)| k).collect();
    let base = format!("{}/shares/ae/aeaqcaibaeaqcaibaeaqcaibae/3", cfg.prefix);
    assert_eq!(names.iter().filter(|k| **k == base).count(), 1);
    assert_eq!(
        names
            .iter()
            .filter(|k| k.starts_with(&format!("{base}.d/")))
            .count(),
        41
    );
    assert_eq!(names.len(), 42, "{names:?}");
}

#[test]
fn leftovers_of_a_crashed_writer_are_swept_once_old_enough() {
    let (cfg, mut store) = small_chunks(1024);
    let data = bytes(8, 4 * 1024);
    let mut io = store.create_incoming(&SI, sn(7)).unwrap();
    io.write_at(0, &data).unwrap();
    io.sync().unwrap();
    drop(io);
    store.publish(&SI, sn(7)).unwrap();
    // A writer that spills 12 fresh chunks (past the 8 it holds) and then dies: its
    // handle is forgotten, as a crash would, so nothing commits or cleans up.
    let mut io = store.open(&SI, sn(7)).unwrap().unwrap();
    io.write_at(0, &bytes(9, 20 * 1024)).unwrap();
    core::mem::forget(io);
    let before = keys(&cfg).len();
    assert_eq!(before, 1 + 4 + 12, "{:?}", keys(&cfg));
    // Too young to be robbed from a live writer: kept.
    assert_eq!(
        store.sweep(core::time::Duration::from_secs(3600)).unwrap(),
        0
    );
    assert_eq!(keys(&cfg).len(), before);
    assert_eq!(store.sweep(core::time::Duration::ZERO).unwrap(), 12);
    assert_eq!(keys(&cfg).len(), 5);
    let mut io = store.open(&SI, sn(7)).unwrap().unwrap();
    assert_eq!(read_all(&mut io), data);
}

#[test]
fn servers_sharing_a_bucket_keep_their_uploads_apart_and_the_first_publish_wins() {
    let mut cfg_a = config(shared(), "tahoe");
    cfg_a.chunk_size = 1024;
    cfg_a.incoming_namespace = Some("server-a".to_string());
    let mut cfg_b = cfg_a.clone();
    cfg_b.incoming_namespace = Some("server-b".to_string());
    let mut a = S3Store::open(&cfg_a).unwrap();
    let mut b = S3Store::open(&cfg_b).unwrap();
    let mut ia = a.create_incoming(&SI, sn(0)).unwrap();
    let mut ib = b.create_incoming(&SI, sn(0)).unwrap();
    ia.write_at(0, &bytes(1, 5000)).unwrap();
    ib.write_at(0, &bytes(2, 5000)).unwrap();
    ia.sync().unwrap();
    ib.sync().unwrap();
    drop((ia, ib));
    // Each sees its own upload only (a server discards what it lists at start-up).
    let mut seen = Vec::new();
    b.for_each_incoming(&mut |si, n| {
        seen.push((si, n));
        true
    })
    .unwrap();
    assert_eq!(seen, vec![(SI, sn(0))]);
    assert_eq!(a.list_incoming(&SI).unwrap(), set(&[0]));
    // A sweep keeps the chunks of both uploads in progress.
    assert_eq!(b.sweep(core::time::Duration::ZERO).unwrap(), 0);
    a.publish(&SI, sn(0)).unwrap();
    assert!(matches!(
        b.publish(&SI, sn(0)),
        Err(StoreError::AlreadyExists)
    ));
    b.abort(&SI, sn(0)).unwrap();
    let mut io = b.open(&SI, sn(0)).unwrap().unwrap();
    assert_eq!(read_all(&mut io), bytes(1, 5000));
    drop(io);
    // Nothing of the losing upload is left: the manifest and a's 5 chunks.
    assert_eq!(keys(&cfg_a).len(), 6, "{:?}", keys(&cfg_a));
    cfg_a.incoming_namespace = Some("Not/Valid".to_string());
    assert_eq!(
        S3Store::open(&cfg_a).unwrap_err().kind(),
        S3ErrorKind::Config
    );
}

#[test]
fn create_incoming_is_exclusive() {
    let (_, mut store) = small_chunks(1024);
    let _io = store.create_incoming(&SI, sn(0)).unwrap();
    assert!(matches!(
        store.create_incoming(&SI, sn(0)),
        Err(StoreError::AlreadyExists)
    ));
}

#[test]
fn abort_and_remove_leave_no_object_even_past_1000_keys() {
    // 16-byte chunks: 1100 chunk objects, so every listing pages.
    let (cfg, mut store) = small_chunks(16);
    let data = bytes(2, 1100 * 16);
    let mut io = store.create_incoming(&SI, sn(1)).unwrap();
    io.write_at(0, &data).unwrap();
    io.sync().unwrap();
    drop(io);
    let listed = keys(&cfg);
    assert!(listed.len() > 1000);
    // The store's own listing pages too: the space it reports counts every object.
    let mut spaced = cfg.clone();
    spaced.quota = Some(1 << 30);
    spaced.space_cache = core::time::Duration::ZERO;
    let held: u64 = listed.iter().map(|(_, size)| size).sum();
    assert_eq!(
        S3Store::open(&spaced).unwrap().available_space().unwrap(),
        Some((1 << 30) - held)
    );
    store.abort(&SI, sn(1)).unwrap();
    assert_eq!(keys(&cfg), vec![]);
    assert!(matches!(
        store.abort(&SI, sn(1)),
        Err(StoreError::NoSuchShare)
    ));

    let mut io = store.create_incoming(&SI, sn(1)).unwrap();
    io.write_at(0, &data).unwrap();
    io.sync().unwrap();
    drop(io);
    store.publish(&SI, sn(1)).unwrap();
    let mut all = Vec::new();
    store
        .for_each_storage_index(&mut |si| {
            all.push(si);
            true
        })
        .unwrap();
    assert_eq!(all, vec![SI]);
    store.remove(&SI, sn(1)).unwrap();
    assert_eq!(keys(&cfg), vec![]);
    assert!(matches!(
        store.remove(&SI, sn(1)),
        Err(StoreError::NoSuchShare)
    ));
    assert_eq!(store.list(&SI).unwrap(), set(&[]));
}

#[test]
fn a_published_share_updates_in_place_and_shrinks_and_grows() {
    let (cfg, mut store) = small_chunks(1024);
    let mut data = bytes(3, 10 * 1024);
    let mut io = store.create_incoming(&SI, sn(2)).unwrap();
    io.write_at(0, &data).unwrap();
    io.sync().unwrap();
    drop(io);
    store.publish(&SI, sn(2)).unwrap();
    let mut io = store.open(&SI, sn(2)).unwrap().unwrap();
    io.write_at(5000, b"hello").unwrap();
    data[5000..5005].copy_from_slice(b"hello");
    io.sync().unwrap();
    io.set_len(3000).unwrap();
    io.set_len(4000).unwrap();
    io.sync().unwrap();
    drop(io);
    data.truncate(3000);
    data.resize(4000, 0);
    let mut io = store.open(&SI, sn(2)).unwrap().unwrap();
    assert_eq!(read_all(&mut io), data);
    // Reads past the end are refused, not zero-filled.
    assert_eq!(
        io.read_at(3999, &mut [0; 2]).unwrap_err().kind(),
        S3ErrorKind::InvalidArgument
    );
    drop(io);
    // The manifest and 3 chunks (the fourth is all zeros: no object): superseded chunks
    // were deleted at commit (no grace in these tests).
    assert_eq!(keys(&cfg).len(), 4, "{:?}", keys(&cfg));
}

#[test]
fn two_handles_racing_on_one_share_one_commit_wins_the_other_changes_nothing() {
    let (cfg, mut store) = small_chunks(1024);
    let mut io = store.create_incoming(&SI, sn(4)).unwrap();
    io.write_at(0, &[0u8; 2000]).unwrap();
    io.sync().unwrap();
    drop(io);
    store.publish(&SI, sn(4)).unwrap();
    let mut other = S3Store::open(&cfg).unwrap();
    let mut a = store.open(&SI, sn(4)).unwrap().unwrap();
    let mut b = other.open(&SI, sn(4)).unwrap().unwrap();
    a.write_at(10, b"AAAA").unwrap();
    b.write_at(1500, b"BBBB").unwrap();
    a.sync().unwrap();
    assert_eq!(b.sync().unwrap_err().kind(), S3ErrorKind::Conflict);
    // The loser's handle refuses further use, and its drop commits nothing.
    assert_eq!(b.len().unwrap_err().kind(), S3ErrorKind::Poisoned);
    drop((a, b));
    let mut io = store.open(&SI, sn(4)).unwrap().unwrap();
    let got = read_all(&mut io);
    assert_eq!(&got[10..14], b"AAAA");
    assert_eq!(&got[1500..1504], &[0; 4]);
    drop(io);
    // The loser's fresh chunk is gone too: two chunks and the manifest.
    assert_eq!(keys(&cfg).len(), 3, "{:?}", keys(&cfg));
}

#[test]
fn a_reader_keeps_the_version_it_opened_while_a_writer_commits() {
    let mut cfg = config(shared(), "tahoe");
    cfg.chunk_size = 1024;
    let mut store = S3Store::open(&cfg).unwrap();
    let old = bytes(7, 8 * 1024);
    let mut io = store.create_incoming(&SI, sn(6)).unwrap();
    io.write_at(0, &old).unwrap();
    io.sync().unwrap();
    drop(io);
    store.publish(&SI, sn(6)).unwrap();
    let mut reader = store.open(&SI, sn(6)).unwrap().unwrap();
    let mut head = [0u8; 10];
    reader.read_at(0, &mut head).unwrap();
    let mut writer = store.open(&SI, sn(6)).unwrap().unwrap();
    writer.write_at(0, &[0xee; 8 * 1024]).unwrap();
    writer.sync().unwrap();
    drop(writer);
    // Every chunk was replaced; the reader still reads the share it opened, whole.
    assert_eq!(read_all(&mut reader), old);
    drop(reader);
    let mut fresh = store.open(&SI, sn(6)).unwrap().unwrap();
    assert_eq!(read_all(&mut fresh), vec![0xee; 8 * 1024]);
}

#[test]
fn available_space_is_the_quota_minus_what_the_store_holds() {
    let mut cfg = config(shared(), "tahoe");
    cfg.chunk_size = 1024;
    cfg.quota = Some(1_000_000);
    cfg.space_cache = core::time::Duration::ZERO;
    let mut store = S3Store::open(&cfg).unwrap();
    assert_eq!(store.available_space().unwrap(), Some(1_000_000));
    let mut io = store.create_incoming(&SI, sn(5)).unwrap();
    io.write_at(0, &bytes(5, 5000)).unwrap();
    io.sync().unwrap();
    drop(io);
    store.publish(&SI, sn(5)).unwrap();
    let held: u64 = keys(&cfg).iter().map(|(_, s)| s).sum();
    assert!(held > 5000);
    assert_eq!(store.available_space().unwrap(), Some(1_000_000 - held));
    cfg.quota = None;
    let mut unknown = S3Store::open(&cfg).unwrap();
    assert_eq!(unknown.available_space().unwrap(), None);
}

#[test]
fn an_advisory_is_never_replaced() {
    let (cfg, mut store) = small_chunks(1024);
    store.write_advisory("2026-12-01_x", b"first").unwrap();
    assert!(matches!(
        store.write_advisory("2026-12-01_x", b"second"),
        Err(StoreError::AlreadyExists)
    ));
    assert!(matches!(
        store.write_advisory("../escape", b"x"),
        Err(StoreError::InvalidArgument(_))
    ));
    let b = raw(shared(), "tahoe");
    let r = b
        .get_object(format!("{}/corruption-advisories/2026-12-01_x", cfg.prefix))
        .unwrap();
    assert_eq!(r.as_slice(), b"first");
}

#[test]
fn storage_indexes_are_visited_in_base32_order() {
    let (_, mut store) = small_chunks(1024);
    let sis = [
        StorageIndex::new([0xff; 16]),
        StorageIndex::new([0; 16]),
        StorageIndex::new([0x42; 16]),
    ];
    for si in &sis {
        let mut io = store.create_incoming(si, sn(0)).unwrap();
        io.write_at(0, b"x").unwrap();
        io.sync().unwrap();
        drop(io);
        store.publish(si, sn(0)).unwrap();
    }
    // An incoming share alone does not make its storage index visited.
    let _pending = store.create_incoming(&SI, sn(9)).unwrap();
    let mut seen = Vec::new();
    store
        .for_each_storage_index(&mut |si| {
            seen.push(si.to_base32().as_str().to_string());
            true
        })
        .unwrap();
    let mut want: Vec<String> = sis
        .iter()
        .map(|s| s.to_base32().as_str().to_string())
        .collect();
    want.sort();
    assert_eq!(seen, want);
    let mut first = Vec::new();
    store
        .for_each_storage_index(&mut |si| {
            first.push(si);
            false
        })
        .unwrap();
    assert_eq!(first.len(), 1);
}

#[test]
fn credentials_never_show_and_bad_ones_are_a_typed_error() {
    let mut cfg = config(shared(), "tahoe");
    let text = format!("{cfg:?}");
    assert!(!text.contains(cluster::SECRET_KEY), "{text}");
    cfg.secret_key = Some(tahoe_shares_s3::Secret::new("wrong-secret"));
    let err = S3Store::open(&cfg).unwrap_err();
    assert_eq!(err.kind(), S3ErrorKind::Denied, "{err}");
    assert!(!format!("{err} {err:?}").contains("wrong-secret"));
    let store = S3Store::open(&config(shared(), "tahoe")).unwrap();
    assert!(!format!("{store:?}").contains(cluster::SECRET_KEY));
}

#[test]
fn credentials_come_from_the_environment_when_not_given() {
    // The only test of this binary that reads these variables.
    std::env::set_var("AWS_ACCESS_KEY_ID", cluster::ACCESS_KEY);
    std::env::set_var("AWS_SECRET_ACCESS_KEY", cluster::SECRET_KEY);
    let mut cfg = config(shared(), "tahoe");
    cfg.access_key = None;
    cfg.secret_key = None;
    let store = S3Store::open(&cfg).unwrap();
    assert_eq!(store.conditional_writes(), ConditionalWrites::Honoured);
}

#[test]
fn a_stopped_gateway_is_a_typed_transport_error_after_the_retries() {
    let mut c = Cluster::start();
    c.create_bucket("lonely");
    let mut cfg = config(&c, "lonely");
    cfg.retry_attempts = 3;
    let mut store = S3Store::open(&cfg).unwrap();
    let mut io = store.create_incoming(&SI, sn(0)).unwrap();
    io.write_at(0, b"acknowledged").unwrap();
    io.sync().unwrap();
    drop(io);
    store.publish(&SI, sn(0)).unwrap();
    c.stop_role("s3");
    let before = store.stats().requests;
    match store.list(&SI) {
        Err(StoreError::Io(e)) => assert_eq!(e.kind(), S3ErrorKind::Transport, "{e}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(store.stats().requests - before, 3);
    assert_eq!(
        S3Store::open(&cfg).unwrap_err().kind(),
        S3ErrorKind::Transport
    );
    // Back up: what was acknowledged is there.
    c.restart_role("s3");
    let deadline = std::time::Instant::now() + core::time::Duration::from_secs(60);
    let mut io = loop {
        match store.open(&SI, sn(0)) {
            Ok(io) => break io.unwrap(),
            Err(e) => {
                assert!(std::time::Instant::now() < deadline, "{e}");
                std::thread::sleep(core::time::Duration::from_millis(200));
            }
        }
    };
    assert_eq!(read_all(&mut io), b"acknowledged");
}
