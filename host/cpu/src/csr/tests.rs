use super::*;

const M: CsrCtx = CsrCtx { mode: PrivMode::Machine, retired: 100, hart_id: 3 };

fn rmw(c: &mut Csrs, csr: u16, op: CsrOp, src: u64, rd_x0: bool) -> Result<u64, IllegalCsr> {
    c.rmw(csr, op, src, src != 0, rd_x0, &M)
}

#[test]
fn misa_reports_rv64_imafdcsu_and_ignores_writes() {
    let mut c = Csrs::new();
    rmw(&mut c, addr::MISA, CsrOp::Rw, 0, true).expect("misa is writable (WARL)");
    let v = rmw(&mut c, addr::MISA, CsrOp::Rs, 0, false).expect("read");
    assert_eq!(v >> 62, 2);
    assert_eq!(v & 0x3ff_ffff, (1 << 20) | (1 << 18) | 0b1_0001_0010_1101, "IMAFDC + S + U");
}

#[test]
fn mstatus_writable_fields_and_read_only_uxl_sxl() {
    let mut c = Csrs::new();
    rmw(&mut c, addr::MSTATUS, CsrOp::Rw, u64::MAX, true).expect("write");
    let v = rmw(&mut c, addr::MSTATUS, CsrOp::Rs, 0, false).expect("read");
    let expected = MSTATUS_WMASK | mstatus::MPP | mstatus::XL_64 | mstatus::SD;
    assert_eq!(v, expected);
    rmw(&mut c, addr::MSTATUS, CsrOp::Rw, 0, true).expect("write");
    assert_eq!(c.mstatus(), mstatus::XL_64, "MPP=U, UXL=SXL=2 stay");
}

#[test]
fn mstatus_vs_is_writable_and_dirty_vs_sets_sd() {
    let mut c = Csrs::new();
    for (vs, sd) in [(1, 0), (2, 0), (3, mstatus::SD)] {
        rmw(&mut c, addr::MSTATUS, CsrOp::Rw, vs << 9, true).expect("write");
        assert_eq!(c.mstatus() & (mstatus::VS | mstatus::SD), (vs << 9) | sd, "VS={vs}");
    }
    // sstatus shows and writes the same field.
    assert_eq!(
        rmw(&mut c, addr::SSTATUS, CsrOp::Rc, mstatus::VS, false).map(|v| v & mstatus::VS),
        Ok(mstatus::VS)
    );
    assert_eq!(c.mstatus() & (mstatus::VS | mstatus::SD), 0);
}

#[test]
fn csrrs_and_csrrc_set_and_clear_bits_returning_old_value() {
    let mut c = Csrs::new();
    rmw(&mut c, addr::MSCRATCH, CsrOp::Rw, 0b1010, true).expect("w");
    assert_eq!(rmw(&mut c, addr::MSCRATCH, CsrOp::Rs, 0b0101, false), Ok(0b1010));
    assert_eq!(rmw(&mut c, addr::MSCRATCH, CsrOp::Rc, 0b0011, false), Ok(0b1111));
    assert_eq!(rmw(&mut c, addr::MSCRATCH, CsrOp::Rs, 0, false), Ok(0b1100));
}

#[test]
fn csrrw_with_rd_x0_returns_nothing_but_writes() {
    let mut c = Csrs::new();
    rmw(&mut c, addr::MSCRATCH, CsrOp::Rw, 7, false).expect("w");
    assert_eq!(rmw(&mut c, addr::MSCRATCH, CsrOp::Rw, 9, true), Ok(0));
    assert_eq!(rmw(&mut c, addr::MSCRATCH, CsrOp::Rs, 0, false), Ok(9));
}

#[test]
fn read_only_csrs_trap_on_any_write_but_not_on_pure_reads() {
    let mut c = Csrs::new();
    assert_eq!(rmw(&mut c, addr::MHARTID, CsrOp::Rs, 0, false), Ok(3));
    assert_eq!(rmw(&mut c, addr::MHARTID, CsrOp::Rc, 0, false), Ok(3));
    assert_eq!(rmw(&mut c, addr::MHARTID, CsrOp::Rw, 3, true), Err(IllegalCsr));
    assert_eq!(rmw(&mut c, addr::CYCLE, CsrOp::Rs, 1, false), Err(IllegalCsr));
    assert_eq!(rmw(&mut c, addr::MVENDORID, CsrOp::Rs, 0, false), Ok(0));
}

#[test]
fn unknown_csrs_are_illegal() {
    let mut c = Csrs::new();
    for csr in [0x101, 0x200, 0x280, 0x600, 0x7c0, 0x3a1, 0xfff] {
        assert_eq!(rmw(&mut c, csr, CsrOp::Rs, 0, false), Err(IllegalCsr), "{csr:#x}");
        assert_eq!(rmw(&mut c, csr, CsrOp::Rw, 0, true), Err(IllegalCsr), "{csr:#x}");
    }
}

#[test]
fn mip_pending_bits_are_read_only_to_software() {
    let mut c = Csrs::new();
    c.set_mip_bits(irq::MTI, true);
    rmw(&mut c, addr::MIP, CsrOp::Rw, 0, true).expect("write is legal, just ignored");
    rmw(&mut c, addr::MIP, CsrOp::Rs, irq::MSI, false).expect("legal");
    assert_eq!(c.mip(), irq::MTI);
}

#[test]
fn mie_keeps_only_machine_and_supervisor_enable_bits() {
    let mut c = Csrs::new();
    rmw(&mut c, addr::MIE, CsrOp::Rw, u64::MAX, true).expect("w");
    assert_eq!(c.mie(), irq::M_ALL | irq::S_ALL);
}

#[test]
fn mtvec_keeps_legal_mode_and_vectors_interrupts_only() {
    let mut c = Csrs::new();
    rmw(&mut c, addr::MTVEC, CsrOp::Rw, 0x8000_0001, true).expect("w");
    assert_eq!(c.trap_vector(true, 7), 0x8000_001c);
    assert_eq!(c.trap_vector(false, 2), 0x8000_0000);
    rmw(&mut c, addr::MTVEC, CsrOp::Rw, 0x9000_0002, true).expect("w");
    assert_eq!(c.mtvec(), 0x8000_0001, "reserved mode 2: the write is ignored");
    rmw(&mut c, addr::MTVEC, CsrOp::Rw, 0x9000_0003, true).expect("w");
    assert_eq!(c.mtvec(), 0x8000_0001, "reserved mode 3: the write is ignored");
    rmw(&mut c, addr::MTVEC, CsrOp::Rw, 0x9000_0000, true).expect("w");
    assert_eq!(c.trap_vector(true, 7), 0x9000_0000);
}

#[test]
fn mepc_clears_bit_0() {
    let mut c = Csrs::new();
    rmw(&mut c, addr::MEPC, CsrOp::Rw, 0x1003, true).expect("w");
    assert_eq!(c.mepc(), 0x1002);
}

#[test]
fn counters_follow_retired_and_writes_take_precedence() {
    let mut c = Csrs::new();
    assert_eq!(rmw(&mut c, addr::INSTRET, CsrOp::Rs, 0, false), Ok(100));
    assert_eq!(rmw(&mut c, addr::CYCLE, CsrOp::Rs, 0, false), Ok(100));
    rmw(&mut c, addr::MINSTRET, CsrOp::Rw, 5000, true).expect("w");
    // The writing instruction then retires: retired becomes 101.
    let after = CsrCtx { retired: 101, ..M };
    assert_eq!(c.read(addr::MINSTRET, &after), Ok(5000));
    assert_eq!(c.read(addr::MCYCLE, &after), Ok(101));
    c.set_time(42);
    assert_eq!(c.read(addr::TIME, &after), Ok(42));
}

#[test]
fn raz_wi_csrs_accept_writes_and_read_zero() {
    let mut c = Csrs::new();
    // pmpcfg4..14 and pmpaddr16..63: PMP entries beyond the 16 implemented.
    for csr in [addr::PMPCFG0 + 4, addr::PMPCFG0 + 14, addr::PMPADDR0 + 16, addr::PMPADDR63, 0xb03, 0x323] {
        rmw(&mut c, csr, CsrOp::Rw, u64::MAX, true).expect("writable");
        assert_eq!(c.read(csr, &M), Ok(0), "{csr:#x}");
    }
}

#[test]
fn fp_csrs_need_fs_on_and_writes_make_it_dirty() {
    let mut c = Csrs::new();
    assert!(c.fs_off(), "FS resets to Off");
    for csr in [addr::FFLAGS, addr::FRM, addr::FCSR] {
        assert_eq!(rmw(&mut c, csr, CsrOp::Rs, 0, false), Err(IllegalCsr), "{csr:#x} with FS=Off");
    }
    rmw(&mut c, addr::MSTATUS, CsrOp::Rs, 1 << mstatus::FS_SHIFT, true).expect("FS=Initial");
    assert_eq!(c.mstatus() & mstatus::SD, 0);
    assert_eq!(rmw(&mut c, addr::FCSR, CsrOp::Rs, 0, false), Ok(0), "a pure read keeps FS");
    assert_eq!(c.mstatus() & mstatus::FS, 1 << mstatus::FS_SHIFT);
    rmw(&mut c, addr::FCSR, CsrOp::Rw, 0xff_ff, true).expect("write fcsr");
    assert_eq!(c.mstatus() & (mstatus::FS | mstatus::SD), mstatus::FS_DIRTY | mstatus::SD);
    assert_eq!(c.read(addr::FCSR, &M), Ok(0xff), "fcsr is 8 bits: frm[7:5] fflags[4:0]");
    assert_eq!(rmw(&mut c, addr::FRM, CsrOp::Rw, 0b1_0010, false), Ok(7));
    assert_eq!(c.read(addr::FCSR, &M), Ok(0b010_11111));
    assert_eq!(rmw(&mut c, addr::FFLAGS, CsrOp::Rc, 0b00101, false), Ok(0x1f));
    assert_eq!(c.read(addr::FCSR, &M), Ok(0b010_11010));
    // Clearing FS again hides the FPU and drops SD.
    rmw(&mut c, addr::MSTATUS, CsrOp::Rc, mstatus::FS, true).expect("FS=Off");
    assert_eq!(c.mstatus() & (mstatus::FS | mstatus::SD), 0);
    assert_eq!(c.read(addr::FFLAGS, &M), Err(IllegalCsr));
}
