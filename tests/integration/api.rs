//! Library-level tests: building machines in-process and poking the bus.

use wemu_cpu::{AccessInfo, MemError, Memory};
use wemu_machine::machine::{Machine, Options, config};
use wemu_sandbox::loader::search::Origin;
use wemu_sandbox::loader::{Loader, SearchPath};

use crate::common::test_device_dir;

const FAULTY: u64 = 0x1000_2000;

fn machine(text: &str) -> Result<Machine, String> {
    let spec =
        config::parse_layer(&SearchPath::default(), &Origin::File("test.toml".into()), text, &mut Vec::new())
            .map_err(|e| e.to_string())?;
    let mut loader =
        Loader::new(SearchPath { dirs: vec![test_device_dir()] }, None).map_err(|e| format!("{e:#}"))?;
    Machine::build(spec, &mut loader, &Options::default()).map_err(|e| e.to_string())
}

const BOARD: &str = "[[memory]]\nname = \"ram\"\nbase = 0x80000000\nsize = \"1M\"\n\
                     [[device]]\nname = \"faulty\"\ncomponent = \"faulty\"\nregions = [0x10002000]\n";

fn probe(m: &mut Machine, addr: u64) -> u64 {
    m.platform.store(AccessInfo::HOST, FAULTY + 8, 8, addr).expect("set probe address");
    m.platform.store(AccessInfo::HOST, FAULTY, 8, 5).expect("dma probe command");
    m.platform.load(AccessInfo::HOST, FAULTY + 8, 8).expect("read result")
}

#[test]
fn dma_is_confined_to_the_granted_windows() {
    let (_d, mut m) =
        board_with("[{ base = 0x80001000, size = 0x1000 }, { base = 0x90000000, size = 0x1000 }]", "");
    m.platform.store(AccessInfo::HOST, 0x8000_1010, 8, 0x1122_3344_5566_7788).expect("ram write");
    assert_eq!(probe(&mut m, 0x8000_1010), 0x1122_3344_5566_7788, "inside the window");
    assert_eq!(probe(&mut m, 0x8000_0000), 0xdead_0001, "RAM, but outside the window: denied");
    assert_eq!(probe(&mut m, 0x8000_1ffc), 0xdead_0001, "straddles the window's end: denied");
    assert_eq!(probe(&mut m, 0x9000_0000), 0xdead_0002, "granted but no RAM there");
}

#[test]
fn a_dma_window_can_name_a_memory_region() {
    let (_d, mut m) = board_with("[{ memory = \"ram\" }]", "");
    m.platform.store(AccessInfo::HOST, 0x800f_fff8, 8, 0x77).expect("ram write");
    assert_eq!(probe(&mut m, 0x800f_fff8), 0x77, "the last word of the 1 MiB RAM");
    assert_eq!(probe(&mut m, 0x8010_0000), 0xdead_0001, "past RAM: outside the window");

    let dir = tempfile::tempdir().expect("tempdir");
    let img = dir.path().join("disk.img");
    std::fs::write(&img, [0u8; 16]).expect("image");
    let text = format!(
        "{BOARD}dma = [{{ memory = \"dram\" }}]\ntimers = true\nblock = {:?}\n",
        img.display().to_string()
    );
    let Err(err) = machine(&text) else { panic!("must be refused") };
    assert_eq!(err, "test.toml:5: DMA window on memory 'dram': no such memory (this machine has: ram)");
}

#[test]
fn an_ungranted_capability_is_refused_at_build() {
    let Err(err) = machine(BOARD) else { panic!("must be refused") };
    assert!(err.contains("test.toml:5"), "{err}");
    assert!(err.contains("device 'faulty' (faulty"), "{err}");
    assert!(
        err.contains("capabilities 'clock'") && err.contains("'dma'") && err.contains("'block'"),
        "{err}"
    );
}

#[test]
fn unmapped_and_refused_accesses_are_guest_access_faults() {
    let (_d, mut m) = with_block("");
    assert_eq!(
        m.platform.load(AccessInfo::HOST, 0x4000_0000, 4),
        Err(MemError::AccessFault),
        "nothing mapped"
    );
    assert_eq!(
        m.platform.load(AccessInfo::HOST, FAULTY + 4, 4),
        Err(MemError::AccessFault),
        "device refuses offset 4"
    );
    assert_eq!(
        m.platform.load(AccessInfo::HOST, 0x800f_fffc, 8),
        Err(MemError::AccessFault),
        "straddles the end of RAM"
    );
    assert_eq!(
        m.platform.fetch(AccessInfo::HOST, FAULTY + 8, 4),
        Err(MemError::AccessFault),
        "no execution from MMIO"
    );
}

#[test]
fn a_device_fault_stops_the_bus_with_a_report() {
    let (_d, mut m) = with_block("");
    assert_eq!(m.platform.store(AccessInfo::HOST, FAULTY, 8, 1), Err(MemError::Stop));
    // The machine reports the fault as a run error naming the device.
    let err = m.run(Some(10)).expect_err("stopped").to_string();
    assert!(err.contains("device 'faulty' (faulty) trapped"), "{err}");
}

#[test]
fn power_requests_stop_the_run_with_the_status() {
    let spec = config::load(&SearchPath::default(), "virt").expect("virt");
    let mut loader = Loader::new(SearchPath::default(), None).expect("loader");
    let opts =
        Options { serials: vec![wemu_machine::backend::chardev::ChardevSpec::Null], ..Default::default() };
    let mut m = Machine::build(spec, &mut loader, &opts).expect("virt builds");
    assert_eq!(m.platform.store(AccessInfo::HOST, 0x10_0000, 4, (7 << 16) | 0x3333), Err(MemError::Stop));
    assert_eq!(m.run(None).expect("clean stop"), wemu_machine::machine::Exit::Poweroff(7));
}

/// The faulty device with every capability it imports granted: `dma`
/// windows, timers, and a 16-byte image (bytes 1..=16) as its block
/// backend (`block_extra` adds keys to the block table).
fn board_with(dma: &str, block_extra: &str) -> (tempfile::TempDir, Machine) {
    let dir = tempfile::tempdir().expect("tempdir");
    let img = dir.path().join("disk.img");
    std::fs::write(&img, (1u8..=16).collect::<Vec<u8>>()).expect("image");
    let text = format!(
        "{BOARD}dma = {dma}\ntimers = true\nblock = {{ file = {:?}{block_extra} }}\n",
        img.display().to_string()
    );
    (dir, machine(&text).expect("machine"))
}

fn with_block(extra: &str) -> (tempfile::TempDir, Machine) {
    board_with("[{ base = 0x80000000, size = 0x1000 }]", extra)
}

#[test]
fn timers_fire_at_their_virtual_deadline_and_raise_irqs() {
    let (_d, mut m) = with_block("");
    // A guest that just spins, so virtual time advances with instructions.
    m.load_image(
        wemu_machine::image::parse(&crate::common::asm::SPIN.to_le_bytes(), 0x8000_0000).expect("raw"),
        "spin",
    )
    .expect("load");
    m.platform.store(AccessInfo::HOST, FAULTY, 8, 8).expect("arm and cancel timer 2");
    m.platform.store(AccessInfo::HOST, FAULTY, 8, 7).expect("arm timer 1");
    m.run(Some(500)).expect("run");
    assert_eq!(m.platform.load(AccessInfo::HOST, FAULTY + 8, 8), Ok(0), "not yet: 500 ns < 1000 ns");
    m.run(Some(5000)).expect("run");
    let fired_at = m.platform.load(AccessInfo::HOST, FAULTY + 8, 8).expect("result");
    assert!((1000..1100).contains(&fired_at), "fired at {fired_at} ns");
}

#[test]
fn block_backends_read_write_and_respect_read_only() {
    let (dir, mut m) = with_block("");
    m.platform.store(AccessInfo::HOST, FAULTY, 8, 9).expect("read");
    assert_eq!(m.platform.load(AccessInfo::HOST, FAULTY + 8, 8), Ok(0x0807_0605_0403_0201));
    m.platform.store(AccessInfo::HOST, FAULTY + 8, 8, 0x1122_3344_5566_7788).expect("probe value");
    m.platform.store(AccessInfo::HOST, FAULTY, 8, 10).expect("write");
    assert_eq!(m.platform.load(AccessInfo::HOST, FAULTY + 8, 8), Ok(0));
    assert_eq!(
        std::fs::read(dir.path().join("disk.img")).expect("image")[..8],
        0x1122_3344_5566_7788u64.to_le_bytes()
    );

    let (ro_dir, mut ro) = with_block(", readonly = true");
    ro.platform.store(AccessInfo::HOST, FAULTY + 8, 8, 0xffff).expect("probe value");
    ro.platform.store(AccessInfo::HOST, FAULTY, 8, 10).expect("write");
    assert_eq!(ro.platform.load(AccessInfo::HOST, FAULTY + 8, 8), Ok(0xdead_1002), "read-only refused");
    assert_eq!(std::fs::read(ro_dir.path().join("disk.img")).expect("image")[0], 1, "image untouched");
}

#[test]
fn save_and_restore_round_trip_through_the_component() {
    let (_d, mut m) = with_block("");
    m.platform.store(AccessInfo::HOST, FAULTY + 8, 8, 0xabcd).expect("set probe");
    let dev = &mut m.platform.slots_mut()[0];
    let snap = dev.save(0).expect("save");
    dev.write(0, 0, 8, 8, 0x1234).expect("call").expect("write");
    dev.restore(0, &snap).expect("call").expect("restore");
    assert_eq!(dev.save(0).expect("save"), snap);
    assert!(dev.restore(0, b"garbage").expect("call").is_err(), "foreign state refused");
}

#[test]
fn the_compile_cache_is_reused_and_survives_corruption() {
    use wemu_sandbox::loader::{CacheOutcome, CompileCache};
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = std::fs::read(test_device_dir().join("faulty.wasm")).expect("faulty.wasm");
    let load = || {
        let loader = Loader::new(SearchPath::default(), Some(CompileCache::new(dir.path().to_owned())))
            .expect("loader");
        loader
            .compile("faulty", Origin::File("faulty.wasm".into()), &bytes)
            .map(|c| c.cache)
            .expect("compile")
    };
    assert_eq!(load(), CacheOutcome::Miss);
    assert_eq!(load(), CacheOutcome::Hit);
    for entry in std::fs::read_dir(dir.path()).expect("cache dir") {
        let path = entry.expect("entry").path();
        let mut b = std::fs::read(&path).expect("entry bytes");
        let last = b.len() - 1;
        b[last] ^= 0xff;
        std::fs::write(&path, b).expect("corrupt");
    }
    assert_eq!(load(), CacheOutcome::Miss, "a corrupt entry is recompiled, not trusted");
    assert_eq!(load(), CacheOutcome::Hit);
}

#[test]
fn finisher_reset_reloads_the_image_and_clears_ram() {
    let spec = config::load(&SearchPath::default(), "virt").expect("virt");
    let mut loader = Loader::new(SearchPath::default(), None).expect("loader");
    let opts =
        Options { serials: vec![wemu_machine::backend::chardev::ChardevSpec::Null], ..Default::default() };
    let mut m = Machine::build(spec, &mut loader, &opts).expect("virt builds");
    let prog = crate::common::asm::SPIN.to_le_bytes();
    m.load_image(wemu_machine::image::parse(&prog, 0x8000_0000).expect("raw"), "spin").expect("load");
    m.run(Some(100)).expect("spin a little");
    m.platform.store(AccessInfo::HOST, 0x8000_1000, 8, 0x5a5a).expect("scribble");
    m.platform.store(AccessInfo::HOST, 0x8000_0000, 4, 0).expect("clobber the program");
    assert_eq!(m.platform.store(AccessInfo::HOST, 0x10_0000, 4, 0x7777), Err(MemError::Stop));
    assert_eq!(m.run(Some(10)).expect("reset then run"), wemu_machine::machine::Exit::InstructionLimit);
    assert_eq!(m.platform.load(AccessInfo::HOST, 0x8000_1000, 8), Ok(0), "RAM cleared");
    assert_eq!(
        m.platform.load(AccessInfo::HOST, 0x8000_0000, 4),
        Ok(u64::from(crate::common::asm::SPIN)),
        "image reloaded"
    );
    assert_eq!(m.harts[0].pc, 0x8000_0000);
}

#[test]
fn rom_is_readable_and_executable_but_not_writable() {
    let text = "[[memory]]\nname = \"rom\"\nbase = 0x1000\nsize = \"4K\"\nreadonly = true\n\
                [[memory]]\nname = \"ram\"\nbase = 0x80000000\nsize = \"64K\"\n";
    let mut m = machine(text).expect("machine");
    m.load_image(
        wemu_machine::image::parse(&crate::common::asm::SPIN.to_le_bytes(), 0x1000).expect("raw"),
        "rom.bin",
    )
    .expect("the loader may fill ROM");
    assert_eq!(m.platform.load(AccessInfo::HOST, 0x1000, 4), Ok(u64::from(crate::common::asm::SPIN)));
    assert_eq!(m.platform.fetch(AccessInfo::HOST, 0x1000, 4), Ok(u64::from(crate::common::asm::SPIN)));
    assert_eq!(
        m.platform.store(AccessInfo::HOST, 0x1000, 4, 0),
        Err(MemError::AccessFault),
        "the guest may not"
    );
    assert_eq!(m.platform.store(AccessInfo::HOST, 0x8000_0000, 4, 1), Ok(()));
}

/// The faulty device with its line 0 on hart 0's MEIP, under `policy`, and
/// at the reset vector: `lui t0, 0x10002; li t1, COMMAND; sd t1, 0(t0); j .`
fn commanding_hart(policy: &str, command: u32) -> (tempfile::TempDir, Machine) {
    let dir = tempfile::tempdir().expect("tempdir");
    let img = dir.path().join("disk.img");
    std::fs::write(&img, [0u8; 16]).expect("image");
    let text = format!(
        "{BOARD}dma = [{{ memory = \"ram\" }}]\ntimers = true\nblock = {:?}\n\
         irqs = [\"hart0.meip\"]\non-fault = \"{policy}\"\n",
        img.display().to_string()
    );
    let mut m = machine(&text).expect("machine");
    let li = (command << 20) | (6 << 7) | 0x13;
    let code = [0x1000_22b7u32, li, 0x0062_b023, 0x0000_006f];
    let bytes: Vec<u8> = code.iter().flat_map(|w| w.to_le_bytes()).collect();
    m.load_image(wemu_machine::image::parse(&bytes, 0x8000_0000).expect("raw"), "code").expect("load");
    (dir, m)
}

#[test]
fn an_irq_storm_ends_the_batch_with_a_yield_not_a_stop() {
    let (_d, mut m) = commanding_hart("stop", 11);
    let exit = m.harts[0].run(&mut m.platform, 100);
    assert_eq!(exit, wemu_cpu::RunExit::Yield, "the hart yields after the store");
    assert_eq!((m.harts[0].pc, m.harts[0].instret()), (0x8000_000c, 3), "the store retired");
    match m.incidents() {
        [wemu_machine::machine::Incident::IrqStorm { pc, .. }] => assert_eq!(*pc, Some(0x8000_0008)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_survived_write_fault_is_dropped_and_reported_at_the_store() {
    for policy in ["isolate", "reset"] {
        let (_d, mut m) = commanding_hart(policy, 1);
        let exit = m.harts[0].run(&mut m.platform, 100);
        assert_eq!(exit, wemu_cpu::RunExit::Yield, "{policy}");
        assert_eq!(
            (m.harts[0].pc, m.harts[0].instret()),
            (0x8000_000c, 3),
            "{policy}: the store retired once"
        );
        match m.incidents() {
            [wemu_machine::machine::Incident::Fault { pc, fault, .. }] => {
                assert_eq!(*pc, Some(0x8000_0008), "{policy}");
                assert!(fault.op.starts_with("write(region 0"), "{policy}: {}", fault.op);
            }
            other => panic!("{policy}: {other:?}"),
        }
        let calls = m.devices().next().expect("faulty").calls();
        assert_eq!(calls, if policy == "isolate" { 1 } else { 0 }, "{policy}: no second call");
    }
}
