//! The generated device tree (`wemu dtb`, decompiled with `dtc`) and the
//! boot flow's checks (--bios, --initrd, -m).

use crate::common::{guest, temp_file, wemu};

/// `dtc -I dtb -O dts` of `blob`.
fn decompile(blob: &std::path::Path) -> String {
    let out = std::process::Command::new("dtc")
        .args(["-I", "dtb", "-O", "dts"])
        .arg(blob)
        .output()
        .expect("dtc (Debian package device-tree-compiler; `just setup` installs it)");
    assert!(out.status.success(), "dtc refused the blob: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("dts is text")
}

fn dtb(args: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("out.dtb");
    let path_s = path.to_str().expect("utf-8 temp path");
    let mut all = vec!["dtb", "-o", path_s];
    all.extend_from_slice(args);
    let r = wemu(&all);
    assert_eq!(r.code, Some(0), "wemu dtb failed: {}", r.stderr);
    decompile(&path)
}

#[test]
fn dtb_describes_cpus_memory_chosen_and_devices() {
    let dts = dtb(&["-M", "virt", "--smp", "2", "-m", "256M", "--append", "console=ttyS0 quiet"]);
    for want in [
        "timebase-frequency = <0x989680>;",
        "cpu@0 {",
        "cpu@1 {",
        "riscv,isa = \"rv64imafdc_zicsr_zifencei",
        "mmu-type = \"riscv,sv48\";",
        "compatible = \"riscv,cpu-intc\";",
        "memory@80000000 {",
        "reg = <0x00 0x80000000 0x00 0x10000000>;",
        "bootargs = \"console=ttyS0 quiet\";",
        "stdout-path = \"/soc/serial@10000000\";",
        "serial@10000000 {",
        "compatible = \"ns16550a\";",
        "reg = <0x00 0x10000000 0x00 0x100>;",
        "compatible = \"sifive,test1\\0sifive,test0\\0syscon\";",
    ] {
        assert!(dts.contains(want), "missing `{want}` in:\n{dts}");
    }
    assert!(!dts.contains("cpu@2"), "two harts only:\n{dts}");
}

#[test]
fn dtb_chosen_names_the_initrd_where_the_boot_flow_put_it() {
    let (_d, initrd) = temp_file("initrd", &[0x5a; 3000]);
    let kernel = guest("hello");
    let dts = dtb(&[
        "--bios",
        "none",
        "--kernel",
        kernel.to_str().expect("utf-8"),
        "--initrd",
        initrd.to_str().expect("utf-8"),
    ]);
    // Kernel entry 0x80000000 + min(128 MiB / 2, 128 MiB), as QEMU.
    assert!(dts.contains("linux,initrd-start = <0x00 0x84000000>;"), "{dts}");
    assert!(dts.contains(&format!("linux,initrd-end = <0x00 {:#x}>;", 0x8400_0000u64 + 3000)), "{dts}");
}

#[test]
fn boot_flow_errors_name_the_file() {
    let hello = guest("hello");
    let hello = hello.to_str().expect("utf-8");
    let r = wemu(&["run", "--bios", "/nonexistent/fw.bin", "--kernel", hello]);
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("firmware /nonexistent/fw.bin"), "{}", r.stderr);

    let (_d, initrd) = temp_file("initrd", &[1; 16]);
    let initrd = initrd.to_str().expect("utf-8");
    let r = wemu(&["run", "--bios", "none", "--initrd", initrd]);
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("nothing to run") || r.stderr.contains("needs a --kernel"), "{}", r.stderr);

    let (_d2, big) = temp_file("big-initrd", &vec![0; 9 << 20]);
    let r = wemu(&["run", "-m", "16M", "--kernel", hello, "--initrd", big.to_str().expect("utf-8")]);
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("does not fit in RAM"), "{}", r.stderr);

    let r = wemu(&["run", "-m", "lots", "--kernel", hello]);
    assert_eq!(r.code, Some(2), "clap rejects a bad size: {}", r.stderr);
}
