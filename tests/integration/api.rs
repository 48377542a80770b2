//! Library-level tests: building machines in-process and poking the bus.

use wemu::cpu::{MemError, Memory};
use wemu::loader::search::Origin;
use wemu::loader::{Loader, SearchPath};
use wemu::machine::{Machine, Options, config};

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
    m.platform.store(FAULTY + 8, 8, addr).expect("set probe address");
    m.platform.store(FAULTY, 8, 5).expect("dma probe command");
    m.platform.load(FAULTY + 8, 8).expect("read result")
}

#[test]
fn dma_is_confined_to_the_granted_windows() {
    let mut m = machine(&format!(
        "{BOARD}dma = [{{ base = 0x80001000, size = 0x1000 }}, {{ base = 0x90000000, size = 0x1000 }}]\n"
    ))
    .expect("machine");
    m.platform.store(0x8000_1010, 8, 0x1122_3344_5566_7788).expect("ram write");
    assert_eq!(probe(&mut m, 0x8000_1010), 0x1122_3344_5566_7788, "inside the window");
    assert_eq!(probe(&mut m, 0x8000_0000), 0xdead_0001, "RAM, but outside the window: denied");
    assert_eq!(probe(&mut m, 0x8000_1ffc), 0xdead_0001, "straddles the window's end: denied");
    assert_eq!(probe(&mut m, 0x9000_0000), 0xdead_0002, "granted but no RAM there");
}

#[test]
fn an_ungranted_capability_is_refused_at_build() {
    let err = machine(BOARD).err().expect("must be refused");
    assert!(err.contains("test.toml:5"), "{err}");
    assert!(err.contains("device 'faulty' (faulty"), "{err}");
    assert!(err.contains("capability 'dma'"), "{err}");
}

#[test]
fn unmapped_and_refused_accesses_are_guest_access_faults() {
    let mut m =
        machine(&format!("{BOARD}dma = [{{ base = 0x80000000, size = 0x1000 }}]\n")).expect("machine");
    assert_eq!(m.platform.load(0x4000_0000, 4), Err(MemError::AccessFault), "nothing mapped");
    assert_eq!(m.platform.load(FAULTY + 4, 4), Err(MemError::AccessFault), "device refuses offset 4");
    assert_eq!(m.platform.load(0x800f_fffc, 8), Err(MemError::AccessFault), "straddles the end of RAM");
    assert_eq!(m.platform.fetch(FAULTY + 8, 4), Err(MemError::AccessFault), "no execution from MMIO");
}

#[test]
fn a_device_fault_stops_the_bus_with_a_report() {
    let mut m =
        machine(&format!("{BOARD}dma = [{{ base = 0x80000000, size = 0x1000 }}]\n")).expect("machine");
    assert_eq!(m.platform.store(FAULTY, 8, 1), Err(MemError::Stop));
    // The machine reports the fault as a run error naming the device.
    let err = m.run(Some(10)).err().expect("stopped").to_string();
    assert!(err.contains("device 'faulty' (faulty) trapped"), "{err}");
}

#[test]
fn power_requests_stop_the_run_with_the_status() {
    let spec = config::load(&SearchPath::default(), "virt").expect("virt");
    let mut loader = Loader::new(SearchPath::default(), None).expect("loader");
    let opts = Options { serials: vec![wemu::backend::chardev::ChardevSpec::Null], trace_mmio: false };
    let mut m = Machine::build(spec, &mut loader, &opts).expect("virt builds");
    assert_eq!(m.platform.store(0x10_0000, 4, (7 << 16) | 0x3333), Err(MemError::Stop));
    assert_eq!(m.run(None).expect("clean stop"), wemu::machine::Exit::Poweroff(7));
}
