//! Test-only helpers: a `Vec<u8>` memory and a tiny instruction encoder.

use std::ops::Range;

use crate::{AccessInfo, Hart, MemError, Memory, PrivMode, RangeKind};

pub const RAM_BASE: u64 = 0x8000_0000;
pub const RAM_SIZE: usize = 0x1_0000;

/// RAM at `base..base+len`; everything else is an access fault, except
/// `stop_at`, which asks the machine to stop.
pub struct TestMem {
    pub base: u64,
    pub bytes: Vec<u8>,
    pub stop_at: Option<u64>,
    /// Every fetch as (addr, size), to check the 2+2 fetch protocol.
    pub fetches: Vec<(u64, u8)>,
    /// A store here makes `yield_requested` return true once.
    pub yield_on_store: Option<u64>,
    pub yield_pending: bool,
    /// The record of every load and store, in order.
    pub accesses: Vec<AccessInfo>,
    /// `backing` calls these bytes (inside RAM) a device's registers.
    pub device: Option<Range<u64>>,
    /// `backing` calls these bytes (inside RAM) ROM.
    pub rom: Option<Range<u64>>,
    /// The host address of `bytes` if `ram_window` offers them
    /// (`with_window`; default: no window, every access logged).
    pub window: Option<*mut u8>,
}

impl TestMem {
    pub fn new(base: u64, len: usize) -> Self {
        TestMem {
            base,
            bytes: vec![0; len],
            stop_at: None,
            fetches: Vec::new(),
            yield_on_store: None,
            yield_pending: false,
            accesses: Vec::new(),
            device: None,
            rom: None,
            window: None,
        }
    }

    /// Offer all of RAM as the hart's RAM window: accesses through it
    /// (paged data in `run`, the instruction cache's page copies) are
    /// not logged.
    pub fn set_window(&mut self) {
        self.window = Some(self.bytes.as_mut_ptr());
    }

    fn range(&self, addr: u64, size: u8) -> Result<usize, MemError> {
        if self.stop_at == Some(addr) {
            return Err(MemError::Stop);
        }
        let off = addr.checked_sub(self.base).ok_or(MemError::AccessFault)?;
        let end = off.checked_add(u64::from(size)).ok_or(MemError::AccessFault)?;
        if end > self.bytes.len() as u64 {
            return Err(MemError::AccessFault);
        }
        Ok(off as usize)
    }

    pub fn put16(&mut self, addr: u64, v: u16) {
        self.store(AccessInfo::HOST, addr, 2, u64::from(v)).expect("put16 in RAM");
    }

    pub fn put32(&mut self, addr: u64, v: u32) {
        self.store(AccessInfo::HOST, addr, 4, u64::from(v)).expect("put32 in RAM");
    }

    pub fn put64(&mut self, addr: u64, v: u64) {
        self.store(AccessInfo::HOST, addr, 8, v).expect("put64 in RAM");
    }

    pub fn get(&mut self, addr: u64, size: u8) -> u64 {
        self.load(AccessInfo::HOST, addr, size).expect("get in RAM")
    }

    /// Write 32-bit instruction words consecutively from `addr`.
    pub fn code(&mut self, addr: u64, words: &[u32]) {
        for (i, w) in words.iter().enumerate() {
            self.put32(addr + 4 * i as u64, *w);
        }
    }
}

impl TestMem {
    fn read(&self, addr: u64, size: u8) -> Result<u64, MemError> {
        let off = self.range(addr, size)?;
        let mut v = 0u64;
        for i in (0..usize::from(size)).rev() {
            v = (v << 8) | u64::from(self.bytes[off + i]);
        }
        Ok(v)
    }
}

impl Memory for TestMem {
    fn load(&mut self, at: AccessInfo, addr: u64, size: u8) -> Result<u64, MemError> {
        self.accesses.push(at);
        self.read(addr, size)
    }

    fn store(&mut self, at: AccessInfo, addr: u64, size: u8, value: u64) -> Result<(), MemError> {
        self.accesses.push(at);
        let off = self.range(addr, size)?;
        if self.yield_on_store == Some(addr) {
            self.yield_pending = true;
        }
        for i in 0..usize::from(size) {
            self.bytes[off + i] = (value >> (8 * i)) as u8;
        }
        Ok(())
    }

    fn fetch(&mut self, _at: AccessInfo, addr: u64, size: u8) -> Result<u64, MemError> {
        self.fetches.push((addr, size));
        self.read(addr, size)
    }

    fn yield_requested(&mut self) -> bool {
        std::mem::take(&mut self.yield_pending)
    }

    fn ram_window(&self) -> Option<crate::RamWindow> {
        let host = self.window?;
        Some(crate::RamWindow { host, base: self.base, len: self.bytes.len() as u64, writable: true })
    }

    fn range_kind(&mut self, addr: u64, len: u64) -> RangeKind {
        let overlaps = |r: &Option<Range<u64>>| {
            r.as_ref().is_some_and(|r| addr < r.end && addr.saturating_add(len) > r.start)
        };
        let end = addr.checked_sub(self.base).and_then(|off| off.checked_add(len));
        if overlaps(&self.device) {
            RangeKind::Device
        } else if end.is_none_or(|end| end > self.bytes.len() as u64) {
            RangeKind::Nothing
        } else {
            RangeKind::Memory { writable: !overlaps(&self.rom) }
        }
    }
}

/// A hart at `RAM_BASE` with `words` loaded there, memory open to S and
/// U through PMP (`open_pmp`).
pub fn setup(words: &[u32]) -> (Hart, TestMem) {
    let mut mem = TestMem::new(RAM_BASE, RAM_SIZE);
    mem.code(RAM_BASE, words);
    let mut hart = Hart::new(0, RAM_BASE);
    open_pmp(&mut hart);
    (hart, mem)
}

/// What firmware does before it first leaves M-mode: PMP entry 15 (the
/// lowest priority) grants S and U everything (NAPOT over the whole
/// address space, RWX). Without any entry S/U accesses fail. Tests that
/// change mode directly rely on this; PMP tests add entries above it or
/// clear it.
pub fn open_pmp(hart: &mut Hart) {
    use crate::csr::{CsrCtx, addr};
    use crate::insn::CsrOp;
    use crate::pmp::cfg;
    let ctx = CsrCtx { mode: PrivMode::Machine, retired: 0, hart_id: 0 };
    let napot_rwx = u64::from(cfg::NAPOT | cfg::RWX) << 56;
    for (csr, v) in [(addr::PMPADDR0 + 15, u64::MAX), (addr::PMPCFG0 + 2, napot_rwx)] {
        hart.csrs.rmw(csr, CsrOp::Rw, v, true, true, &ctx).expect("PMP CSRs exist");
    }
}

/// Hand assembler for the base formats (Vol I §2.2). Registers are plain
/// numbers; immediates are byte offsets / values as in assembly.
#[allow(dead_code)]
pub mod asm {
    pub fn r(f7: u32, rs2: u32, rs1: u32, f3: u32, rd: u32, opc: u32) -> u32 {
        (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | opc
    }
    pub fn i(imm: i32, rs1: u32, f3: u32, rd: u32, opc: u32) -> u32 {
        ((imm as u32 & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | opc
    }
    pub fn s(imm: i32, rs2: u32, rs1: u32, f3: u32, opc: u32) -> u32 {
        let imm = imm as u32;
        (((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 0x1f) << 7) | opc
    }
    pub fn b(imm: i32, rs2: u32, rs1: u32, f3: u32, opc: u32) -> u32 {
        let imm = imm as u32;
        (((imm >> 12) & 1) << 31)
            | (((imm >> 5) & 0x3f) << 25)
            | (rs2 << 20)
            | (rs1 << 15)
            | (f3 << 12)
            | (((imm >> 1) & 0xf) << 8)
            | (((imm >> 11) & 1) << 7)
            | opc
    }
    pub fn u(imm20: u32, rd: u32, opc: u32) -> u32 {
        ((imm20 & 0xfffff) << 12) | (rd << 7) | opc
    }
    pub fn j(imm: i32, rd: u32, opc: u32) -> u32 {
        let imm = imm as u32;
        (((imm >> 20) & 1) << 31)
            | (((imm >> 1) & 0x3ff) << 21)
            | (((imm >> 11) & 1) << 20)
            | (((imm >> 12) & 0xff) << 12)
            | (rd << 7)
            | opc
    }

    const OP: u32 = 0b0110011;
    const OP32: u32 = 0b0111011;
    const OPIMM: u32 = 0b0010011;
    const OPIMM32: u32 = 0b0011011;
    const LOAD: u32 = 0b0000011;
    const STORE: u32 = 0b0100011;
    const BRANCH: u32 = 0b1100011;
    const SYSTEM: u32 = 0b1110011;

    macro_rules! rtype {
        ($($name:ident = $opc:ident, $f7:expr, $f3:expr;)*) => {$(
            pub fn $name(rd: u32, rs1: u32, rs2: u32) -> u32 { r($f7, rs2, rs1, $f3, rd, $opc) }
        )*};
    }
    rtype! {
        add = OP, 0, 0; sub = OP, 0x20, 0; sll = OP, 0, 1; slt = OP, 0, 2; sltu = OP, 0, 3;
        xor = OP, 0, 4; srl = OP, 0, 5; sra = OP, 0x20, 5; or = OP, 0, 6; and = OP, 0, 7;
        mul = OP, 1, 0; mulh = OP, 1, 1; mulhsu = OP, 1, 2; mulhu = OP, 1, 3;
        div = OP, 1, 4; divu = OP, 1, 5; rem = OP, 1, 6; remu = OP, 1, 7;
        addw = OP32, 0, 0; subw = OP32, 0x20, 0; sllw = OP32, 0, 1; srlw = OP32, 0, 5;
        sraw = OP32, 0x20, 5; mulw = OP32, 1, 0; divw = OP32, 1, 4; divuw = OP32, 1, 5;
        remw = OP32, 1, 6; remuw = OP32, 1, 7;
    }

    macro_rules! itype {
        ($($name:ident = $opc:ident, $f3:expr;)*) => {$(
            pub fn $name(rd: u32, rs1: u32, imm: i32) -> u32 { i(imm, rs1, $f3, rd, $opc) }
        )*};
    }
    itype! {
        addi = OPIMM, 0; slti = OPIMM, 2; sltiu = OPIMM, 3; xori = OPIMM, 4; ori = OPIMM, 6;
        andi = OPIMM, 7; addiw = OPIMM32, 0;
        lb = LOAD, 0; lh = LOAD, 1; lw = LOAD, 2; ld = LOAD, 3; lbu = LOAD, 4; lhu = LOAD, 5;
        lwu = LOAD, 6;
    }
    pub fn jalr(rd: u32, rs1: u32, imm: i32) -> u32 {
        i(imm, rs1, 0, rd, 0b1100111)
    }

    // Shifts by immediate: funct6/funct7 above the shift amount.
    pub fn slli(rd: u32, rs1: u32, sh: u32) -> u32 {
        i(sh as i32, rs1, 1, rd, OPIMM)
    }
    pub fn srli(rd: u32, rs1: u32, sh: u32) -> u32 {
        i(sh as i32, rs1, 5, rd, OPIMM)
    }
    pub fn srai(rd: u32, rs1: u32, sh: u32) -> u32 {
        i((0x400 | sh) as i32, rs1, 5, rd, OPIMM)
    }
    pub fn slliw(rd: u32, rs1: u32, sh: u32) -> u32 {
        i(sh as i32, rs1, 1, rd, OPIMM32)
    }
    pub fn srliw(rd: u32, rs1: u32, sh: u32) -> u32 {
        i(sh as i32, rs1, 5, rd, OPIMM32)
    }
    pub fn sraiw(rd: u32, rs1: u32, sh: u32) -> u32 {
        i((0x400 | sh) as i32, rs1, 5, rd, OPIMM32)
    }

    macro_rules! stype {
        ($($name:ident = $f3:expr;)*) => {$(
            /// `s? rs2, imm(rs1)`
            pub fn $name(rs2: u32, rs1: u32, imm: i32) -> u32 { s(imm, rs2, rs1, $f3, STORE) }
        )*};
    }
    stype! { sb = 0; sh = 1; sw = 2; sd = 3; }

    macro_rules! btype {
        ($($name:ident = $f3:expr;)*) => {$(
            pub fn $name(rs1: u32, rs2: u32, imm: i32) -> u32 { b(imm, rs2, rs1, $f3, BRANCH) }
        )*};
    }
    btype! { beq = 0; bne = 1; blt = 4; bge = 5; bltu = 6; bgeu = 7; }

    pub fn lui(rd: u32, imm20: u32) -> u32 {
        u(imm20, rd, 0b0110111)
    }
    pub fn auipc(rd: u32, imm20: u32) -> u32 {
        u(imm20, rd, 0b0010111)
    }
    pub fn jal(rd: u32, imm: i32) -> u32 {
        j(imm, rd, 0b1101111)
    }

    macro_rules! csrtype {
        ($($name:ident = $f3:expr;)*) => {$(
            /// `csrr?? rd, csr, rs1/uimm`
            pub fn $name(rd: u32, csr: u16, rs1: u32) -> u32 {
                i(i32::from(csr), rs1, $f3, rd, SYSTEM)
            }
        )*};
    }
    csrtype! { csrrw = 1; csrrs = 2; csrrc = 3; csrrwi = 5; csrrsi = 6; csrrci = 7; }

    /// AMO/LR/SC: funct5, funct3 (2 = .W, 3 = .D); aq/rl clear.
    pub fn amo(funct5: u32, f3: u32, rd: u32, rs1: u32, rs2: u32) -> u32 {
        r(funct5 << 2, rs2, rs1, f3, rd, 0b0101111)
    }

    /// LOAD-FP: `fl{w,d} frd, imm(rs1)` with funct3 2 (W) or 3 (D).
    pub fn fload(f3: u32, rd: u32, rs1: u32, imm: i32) -> u32 {
        i(imm, rs1, f3, rd, 0b0000111)
    }
    /// STORE-FP: `fs{w,d} frs2, imm(rs1)`.
    pub fn fstore(f3: u32, rs2: u32, rs1: u32, imm: i32) -> u32 {
        s(imm, rs2, rs1, f3, 0b0100111)
    }
    /// OP-FP: funct5, fmt (0 = S, 1 = D), rs2, rs1, rm/funct3, rd.
    pub fn opfp(funct5: u32, fmt: u32, rs2: u32, rs1: u32, rm: u32, rd: u32) -> u32 {
        r((funct5 << 2) | fmt, rs2, rs1, rm, rd, 0b1010011)
    }
    /// R4 (FMA family): opcode, rs3, fmt, rs2, rs1, rm, rd.
    pub fn r4(opc: u32, rs3: u32, fmt: u32, rs2: u32, rs1: u32, rm: u32, rd: u32) -> u32 {
        r((rs3 << 2) | fmt, rs2, rs1, rm, rd, opc)
    }

    pub const ECALL: u32 = 0x0000_0073;
    pub const EBREAK: u32 = 0x0010_0073;
    pub const MRET: u32 = 0x3020_0073;
    pub const WFI: u32 = 0x1050_0073;
    pub const SRET: u32 = 0x1020_0073;
    pub const SFENCE_VMA: u32 = 0x1200_0073;
    pub const FENCE: u32 = 0x0ff0_000f;
    pub const NOP: u32 = 0x0000_0013;
}
