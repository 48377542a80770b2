//! Machine-file parsing, validation and the command-line overrides.

use super::layering::{ByName, Lines};
use super::*;

fn parse(text: &str) -> Result<MachineSpec, ConfigError> {
    parse_layer(&SearchPath::default(), &Origin::File("test.toml".into()), text, &mut Vec::new())
}

#[test]
fn drives_fill_the_empty_virtio_slots_in_order() {
    let text = "[[device]]\nname = \"v0\"\ncomponent = \"virtio-mmio\"\n\
                [[device]]\nname = \"v1\"\ncomponent = \"virtio-mmio\"\n";
    let mut spec = parse(text).unwrap();
    apply_drive_option(&mut spec, "file=a.img").unwrap();
    apply_drive_option(&mut spec, "file=b.img,readonly=on,format=raw").unwrap();
    assert_eq!(spec.devices[0].component, "virtio-blk");
    assert_eq!(spec.devices[0].block, Some((PathBuf::from("a.img"), false)));
    assert_eq!(spec.devices[1].block, Some((PathBuf::from("b.img"), true)));
    let e = apply_drive_option(&mut spec, "file=c.img").unwrap_err().to_string();
    assert!(e.contains("--drive file=c.img") && e.contains("no free virtio-mmio slot"), "{e}");
    for bad in ["readonly=on", "file=x,if=virtio", "file=x,readonly=maybe"] {
        let mut spec = parse(text).unwrap();
        assert!(apply_drive_option(&mut spec, bad).is_err(), "{bad}");
    }
}

#[test]
fn sizes_parse() {
    assert_eq!(parse_size("128M"), Ok(128 << 20));
    assert_eq!(parse_size("0x1000"), Ok(0x1000));
    assert_eq!(parse_size("4k"), Ok(4096));
    assert!(parse_size("lots").is_err());
    assert!(parse_size("99999999999G").is_err(), "overflow is an error");
}

#[test]
fn syntax_errors_name_file_and_line() {
    let e = parse("name = \"x\"\n\n[[device]]\nname = \"u\"\ncomponent = 5\n").unwrap_err();
    assert_eq!(e.loc.origin, "test.toml");
    assert_eq!(e.loc.line, Some(5), "{e}");
    let e = parse("[[device]]\nname = \"u\"\ncomponent = \"x\"\nbogus = 1\n").unwrap_err();
    assert!(e.message.contains("bogus"), "{e}");
}

#[test]
fn extends_overrides_and_removes() {
    let base = parse(
        "[[memory]]\nname = \"ram\"\nbase = 0x80000000\nsize = \"16M\"\n\
         [[device]]\nname = \"uart0\"\ncomponent = \"ns16550a\"\nregions = [0x10000000]\nprops = { a = 1 }\n",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let base_path = dir.path().join("base.toml");
    std::fs::write(
        &base_path,
        "[[memory]]\nname = \"ram\"\nbase = 0x80000000\nsize = \"16M\"\n\
         [[device]]\nname = \"uart0\"\ncomponent = \"ns16550a\"\nregions = [0x10000000]\nprops = { a = 1 }\n",
    )
    .unwrap();
    let child = format!(
        "extends = {:?}\n[[memory]]\nname = \"ram\"\nsize = \"64M\"\n\
         [[device]]\nname = \"uart0\"\nprops = {{ b = true }}\n\
         [[device]]\nname = \"uart1\"\ncomponent = \"ns16550a\"\nregions = [0x10001000]\n",
        base_path.display().to_string()
    );
    let spec = parse(&child).unwrap();
    assert_eq!(base.memory[0].size, 16 << 20);
    assert_eq!(spec.memory[0].size, 64 << 20);
    assert_eq!(spec.memory[0].base, 0x8000_0000, "inherited");
    assert_eq!(spec.devices.len(), 2);
    assert_eq!(spec.devices[0].props, vec![("a".into(), PropVal::Int(1)), ("b".into(), PropVal::Bool(true))]);
    let removed = parse(&format!(
        "extends = {:?}\n[[device]]\nname = \"uart0\"\nremove = true\n",
        base_path.display().to_string()
    ))
    .unwrap();
    assert!(removed.devices.is_empty());
}

#[test]
fn relative_extends_and_component_paths_follow_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("boards")).unwrap();
    std::fs::write(dir.path().join("boards/base.toml"), "description = \"base\"\n").unwrap();
    let child = dir.path().join("boards/child.toml");
    std::fs::write(
        &child,
        "extends = \"./base.toml\"\n[[device]]\nname = \"d\"\ncomponent = \"../devs/x.wasm\"\n",
    )
    .unwrap();
    let spec = load(&SearchPath::default(), &child.display().to_string()).unwrap();
    assert_eq!(spec.description, "base", "inherited from the sibling file");
    assert_eq!(spec.devices[0].component, dir.path().join("boards/../devs/x.wasm").display().to_string());
}

#[test]
fn missing_parent_is_named_with_line() {
    let e = parse("\nextends = \"no-such-board\"\n").unwrap_err();
    assert_eq!(e.loc.line, Some(2));
    assert!(e.message.contains("no-such-board"), "{e}");
}

#[test]
fn device_option_adds_a_device_with_props() {
    let mut spec = parse("").unwrap();
    apply_device_option(
        &mut spec,
        "ns16550a,id=uart1,addr=0x10001000,irq=11,clock-frequency=0x10,label=x,chardev=null",
    )
    .unwrap();
    let d = &spec.devices[0];
    assert_eq!((d.name.as_str(), d.component.as_str()), ("uart1", "ns16550a"));
    assert_eq!(d.regions, vec![0x1000_1000]);
    assert_eq!(d.irqs, vec![IrqSpec::Number(11)]);
    assert_eq!(d.chardevs, vec!["null".to_owned()]);
    assert!(d.props.contains(&("clock-frequency".into(), PropVal::Int(16))));
    assert!(d.props.contains(&("label".into(), PropVal::Text("x".into()))));
    assert!(apply_device_option(&mut spec, "x,addr").is_err());
}

const PLIC: &str = "name = \"m\"\n\n[[device]]\nname = \"plic0\"\ncomponent = \"plic\"\n";

#[test]
fn each_hart_expands_per_hart_after_the_hart_count_is_final() {
    let mut spec =
        parse(&format!("{PLIC}irqs = [3, {{ each-hart = [\"meip\", \"seip\"] }}, \"other.1\"]\n")).unwrap();
    assert_eq!(
        spec.devices[0].irqs,
        vec![
            IrqSpec::Number(3),
            IrqSpec::EachHart(vec!["meip".into(), "seip".into()]),
            IrqSpec::Target("other.1".into())
        ]
    );
    spec.harts = 2; // as --smp 2 does
    spec.resolve().unwrap();
    let t = |s: &str| IrqSpec::Target(s.into());
    assert_eq!(
        spec.devices[0].irqs,
        vec![
            IrqSpec::Number(3),
            t("hart0.meip"),
            t("hart0.seip"),
            t("hart1.meip"),
            t("hart1.seip"),
            t("other.1")
        ]
    );
    let again = spec.clone();
    spec.resolve().unwrap();
    assert_eq!(spec, again, "resolving twice changes nothing");
}

#[test]
fn bad_each_hart_entries_name_file_and_line() {
    let e = parse(&format!("{PLIC}irqs = [{{ each-hart = [\"meip\", \"xeip\"] }}]\n")).unwrap_err();
    assert_eq!((e.loc.origin.as_str(), e.loc.line), ("test.toml", Some(6)), "{e}");
    assert!(e.message.contains("\"xeip\" is not one of meip, mtip, msip, seip"), "{e}");
    let e = parse(&format!("{PLIC}irqs = [{{ every-hart = [\"meip\"] }}]\n")).unwrap_err();
    assert!(e.message.contains("unknown key `every-hart`"), "{e}");
    assert_eq!(e.loc.line, Some(6), "{e}");
    let e = parse(&format!("{PLIC}irqs = [{{ each-hart = [] }}]\n")).unwrap_err();
    assert!(e.message.contains("at least one pin"), "{e}");
    let e = parse(&format!("{PLIC}irqs = [{{ each-hart = \"meip\" }}]\n")).unwrap_err();
    assert!(e.message.contains("expected a list of pins"), "{e}");
    let e = parse(&format!("{PLIC}irqs = [-1]\n")).unwrap_err();
    assert!(e.message.contains("out of range"), "{e}");
    let e = parse(&format!("{PLIC}irqs = [true]\n")).unwrap_err();
    assert!(e.message.contains("cannot be a boolean"), "{e}");
}

#[test]
fn machine_values_in_props_resolve_after_smp() {
    let mut spec = parse(&format!(
        "[cpu]\ntimebase-frequency = 1000000\n{}props = {{ harts = \"$harts\", tbf = \"$timebase-frequency\", \
         price = \"$$5\", plain = \"a$b\" }}\n",
        PLIC.trim_start_matches("name = \"m\"\n")
    ))
    .unwrap();
    assert!(spec.devices[0].props.contains(&("harts".into(), PropVal::Machine(MachineVar::Harts))));
    spec.harts = 4;
    spec.resolve().unwrap();
    let props = &spec.devices[0].props;
    assert!(props.contains(&("harts".into(), PropVal::Int(4))), "{props:?}");
    assert!(props.contains(&("tbf".into(), PropVal::Int(1_000_000))), "{props:?}");
    assert!(props.contains(&("price".into(), PropVal::Text("$5".into()))), "$$ is a literal $");
    assert!(props.contains(&("plain".into(), PropVal::Text("a$b".into()))), "only a leading $ is special");
}

#[test]
fn unknown_machine_values_are_refused_with_file_and_line() {
    let e = parse(&format!("{PLIC}props = {{ harts = \"$hart\" }}\n")).unwrap_err();
    assert_eq!((e.loc.origin.as_str(), e.loc.line), ("test.toml", Some(3)), "{e}");
    assert_eq!(
        e.message,
        "property 'harts' = \"$hart\": unknown machine value (known: $harts, $timebase-frequency; \
         write $$ for a literal $)"
    );
    let mut spec = parse("").unwrap();
    let e = apply_device_option(&mut spec, "plic,harts=$cpus").unwrap_err();
    assert_eq!(e.loc.origin, "--device plic,harts=$cpus");
    assert!(e.message.contains("'harts' = \"$cpus\""), "{e}");
}

#[test]
fn device_option_takes_machine_values() {
    let mut spec = parse("").unwrap();
    apply_device_option(&mut spec, "aclint,id=clint,addr=0x2000000,harts=$harts,irq=hart0.msip").unwrap();
    spec.harts = 3;
    spec.resolve().unwrap();
    assert_eq!(spec.devices[0].props, vec![("harts".into(), PropVal::Int(3))]);
    assert_eq!(spec.devices[0].irqs, vec![IrqSpec::Target("hart0.msip".into())]);
}

#[test]
fn dma_windows_name_memory_resolved_after_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.toml");
    std::fs::write(
        &base,
        "[[memory]]\nname = \"ram\"\nbase = 0x80000000\nsize = \"16M\"\n\
         [[device]]\nname = \"disk\"\ncomponent = \"virtio-blk\"\n\
         dma = [{ memory = \"ram\" }, { base = 0x1000, size = \"4K\" }]\n",
    )
    .unwrap();
    // The child only grows RAM: the inherited window follows it.
    let child =
        format!("extends = {:?}\n[[memory]]\nname = \"ram\"\nsize = \"1G\"\n", base.display().to_string());
    let spec = parse(&child).unwrap();
    let d = &spec.devices[0];
    assert_eq!(d.dma, vec![DmaWindow::Memory("ram".into()), DmaWindow::Range { base: 0x1000, size: 0x1000 }]);
    assert_eq!(d.dma_windows(&spec.memory), Ok(vec![(0x8000_0000, 1 << 30), (0x1000, 0x1000)]));

    let mut spec = parse("").unwrap();
    apply_device_option(&mut spec, "virtio-blk,id=d,dma=ram,dma=0x80000000+1M").unwrap();
    assert_eq!(
        spec.devices[0].dma,
        vec![DmaWindow::Memory("ram".into()), DmaWindow::Range { base: 0x8000_0000, size: 1 << 20 }]
    );
}

#[test]
fn dma_window_errors_name_file_and_line() {
    let spec = parse(
        "[[memory]]\nname = \"ram\"\nbase = 0x80000000\nsize = \"16M\"\n\
         [[memory]]\nname = \"rom\"\nbase = 0x1000\nsize = \"4K\"\nreadonly = true\n\n\
         [[device]]\nname = \"d\"\ncomponent = \"c\"\ndma = [{ memory = \"rma\" }]\n\
         [[device]]\nname = \"e\"\ncomponent = \"c\"\ndma = [{ memory = \"rom\" }]\n",
    )
    .unwrap();
    let e = spec.devices[0].dma_windows(&spec.memory).unwrap_err();
    assert_eq!(
        e.to_string(),
        "test.toml:11: DMA window on memory 'rma': no such memory (this machine has: ram, rom)"
    );
    let e = spec.devices[1].dma_windows(&spec.memory).unwrap_err();
    assert!(e.to_string().starts_with("test.toml:15: ") && e.message.contains("read-only"), "{e}");

    let e = parse("\n[[device]]\nname = \"d\"\ncomponent = \"c\"\ndma = [{ base = 0x1000 }]\n").unwrap_err();
    assert_eq!(e.loc.line, Some(2), "{e}");
    assert!(e.message.contains("{ memory = \"NAME\" }"), "{e}");
    let e = parse("[[device]]\nname = \"d\"\ncomponent = \"c\"\ndma = [{ memory = \"ram\", size = 1 }]\n")
        .unwrap_err();
    assert_eq!(e.loc.line, Some(1), "{e}");
}

#[test]
fn on_fault_comes_from_the_file_or_the_device_option() {
    let mut spec = parse("[[device]]\nname = \"u\"\ncomponent = \"c\"\non-fault = \"isolate\"\n").unwrap();
    assert_eq!(spec.devices[0].on_fault, Some(FaultPolicy::Isolate));
    apply_device_option(&mut spec, "c,id=u,on-fault=reset").unwrap();
    apply_device_option(&mut spec, "c,id=v").unwrap();
    assert_eq!(spec.devices[0].on_fault, Some(FaultPolicy::Reset), "--device changes it");
    assert_eq!(spec.devices[1].on_fault, None, "unset: --on-device-fault decides");
    let e = parse("[[device]]\nname = \"u\"\ncomponent = \"c\"\n\non-fault = \"restart\"\n").unwrap_err();
    assert_eq!(e.loc.line, Some(5), "{e}");
    assert!(
        e.message.contains("unknown variant `restart`, expected one of `stop`, `isolate`, `reset`"),
        "{e}"
    );
    let e = apply_device_option(&mut spec, "c,on-fault=ignore").unwrap_err();
    assert_eq!(
        e.to_string(),
        "--device c,on-fault=ignore: on-fault 'ignore': expected one of stop, isolate, reset"
    );
}

#[test]
fn non_scalar_props_are_refused_with_the_name() {
    let e = parse("[[device]]\nname = \"u\"\ncomponent = \"c\"\nprops = { list = [1] }\n").unwrap_err();
    assert!(e.message.contains("'list'"), "{e}");
    assert_eq!(e.loc.line, Some(1));
}

#[test]
fn line_numbers_of_many_entries_come_from_one_index() {
    let text = "a\nbb\n\nccc\n";
    let lines = Lines::new(text);
    let expected = [1, 1, 2, 2, 2, 3, 4, 4, 4, 4, 5];
    for (offset, line) in expected.iter().enumerate() {
        assert_eq!(lines.line_of(offset), *line, "offset {offset}");
    }
    // Every entry of a large file gets its own header's line.
    let n = 20_000;
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&format!("[[memory]]\nname = \"m{i}\"\nbase = {}\nsize = 4096\n\n", 0x1000 * i));
    }
    let spec = parse(&text).unwrap();
    assert_eq!(spec.memory.len(), n);
    for (i, m) in spec.memory.iter().enumerate() {
        assert_eq!((m.name.as_str(), m.loc.line), (format!("m{i}").as_str(), Some(1 + 5 * i)));
    }
}

#[test]
fn merging_by_name_keeps_order_through_removals() {
    let mut list = ByName::new(vec![("a", 1), ("b", 2), ("c", 3)], |t| t.0);
    assert!(list.remove("b"));
    assert!(!list.remove("b"), "already gone");
    if let Some(c) = list.get_mut("c") {
        c.1 = 30;
    }
    assert!(list.get_mut("b").is_none());
    list.push("b", ("b", 4));
    assert_eq!(list.into_vec(), [("a", 1), ("c", 30), ("b", 4)]);
}

#[test]
fn a_name_twice_in_one_file_names_both_lines_but_extends_may_repeat_it() {
    let e = parse(
        "[[memory]]\nname = \"ram\"\nbase = 0\nsize = 4096\n\n[[memory]]\nname = \"ram\"\nsize = 8192\n",
    )
    .unwrap_err();
    assert_eq!(e.loc.line, Some(6), "{e}");
    assert!(e.message.contains("memory 'ram' is defined twice") && e.message.contains("test.toml:1"), "{e}");
    let e = parse("[[device]]\nname = \"u\"\ncomponent = \"x\"\n[[device]]\nname = \"u\"\n").unwrap_err();
    assert!(e.to_string().starts_with("test.toml:4: device 'u' is defined twice"), "{e}");
    assert!(e.message.contains("test.toml:1 and at test.toml:4"), "{e}");
    // Across layers it is the documented override.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("base.toml"), "[[memory]]\nname = \"ram\"\nbase = 0\nsize = 4096\n")
        .unwrap();
    let child = dir.path().join("child.toml");
    std::fs::write(&child, "extends = \"base\"\n[[memory]]\nname = \"ram\"\nsize = 8192\n").unwrap();
    let path = SearchPath { dirs: vec![dir.path().to_owned()] };
    let spec = load(&path, &child.display().to_string()).unwrap();
    assert_eq!(spec.memory.len(), 1);
    assert_eq!(spec.memory[0].size, 8192);
}

#[test]
fn dma_windows_that_are_empty_or_wrap_are_refused_naming_device_and_window() {
    for (window, needle) in [("0x1000+0", "size 0"), ("0xfffffffffffff000+0x2000", "wraps")] {
        let mut spec = parse("").unwrap();
        apply_device_option(&mut spec, &format!("virtio-mmio,id=v,dma={window}")).unwrap();
        let e = spec.devices[0].dma_windows(&spec.memory).unwrap_err().to_string();
        assert!(e.contains("device 'v'") && e.contains(needle), "{e}");
        assert!(e.contains(window.split('+').next().unwrap_or_default()), "{e}");
    }
}

#[test]
fn misaligned_comes_from_the_cpu_table_or_the_cpu_option() {
    assert_eq!(parse("").unwrap().misaligned, Misaligned::Emulate, "the default");
    let mut spec = parse("[cpu]\nmisaligned = \"trap\"\n").unwrap();
    assert_eq!(spec.misaligned, Misaligned::Trap);
    apply_cpu_option(&mut spec, "misaligned=emulate").unwrap();
    assert_eq!(spec.misaligned, Misaligned::Emulate);
    apply_cpu_option(&mut spec, " misaligned = trap ,").unwrap();
    assert_eq!(spec.misaligned, Misaligned::Trap);

    let e = parse("[cpu]\nharts = 1\nmisaligned = \"split\"\n").unwrap_err();
    assert_eq!(e.loc.line, Some(3), "{e}");
    assert!(e.message.contains("split") && e.message.contains("emulate"), "{e}");
    for (bad, says) in [
        ("misaligned=split", "expected one of emulate, trap"),
        ("misaligned", "is not key=value"),
        ("harts=2", "unknown key 'harts' (known: misaligned)"),
    ] {
        let e = apply_cpu_option(&mut spec, bad).unwrap_err();
        assert_eq!(e.loc.origin, format!("--cpu {bad}"));
        assert!(e.message.contains(says), "{bad}: {e}");
    }
}
