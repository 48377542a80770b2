//! Instruction encoders for code built at run time (`lower::exec`), so
//! tables of CSR numbers or encodings need no assembly per entry.
//! Vol I §2.2 "Base Instruction Formats", §"Zicsr".

/// Integer register numbers used by the builders.
pub const ZERO: u32 = 0;
pub const RA: u32 = 1;
pub const T0: u32 = 5;
pub const A0: u32 = 10;
pub const A1: u32 = 11;
pub const A2: u32 = 12;
pub const A3: u32 = 13;
pub const A4: u32 = 14;
pub const A5: u32 = 15;

const SYSTEM: u32 = 0x73;

fn csr_op(funct3: u32, rd: u32, csr: u16, rs1_or_uimm: u32) -> u32 {
    (u32::from(csr) << 20) | ((rs1_or_uimm & 31) << 15) | (funct3 << 12) | ((rd & 31) << 7) | SYSTEM
}

/// `csrrw rd, csr, rs1`
pub fn csrrw(rd: u32, csr: u16, rs1: u32) -> u32 {
    csr_op(1, rd, csr, rs1)
}
/// `csrrs rd, csr, rs1` (`csrr rd, csr` when rs1 = x0)
pub fn csrrs(rd: u32, csr: u16, rs1: u32) -> u32 {
    csr_op(2, rd, csr, rs1)
}
/// `csrrc rd, csr, rs1`
pub fn csrrc(rd: u32, csr: u16, rs1: u32) -> u32 {
    csr_op(3, rd, csr, rs1)
}
/// `csrrwi rd, csr, uimm`
pub fn csrrwi(rd: u32, csr: u16, uimm: u32) -> u32 {
    csr_op(5, rd, csr, uimm)
}
/// `csrrsi rd, csr, uimm`
pub fn csrrsi(rd: u32, csr: u16, uimm: u32) -> u32 {
    csr_op(6, rd, csr, uimm)
}
/// `csrrci rd, csr, uimm`
pub fn csrrci(rd: u32, csr: u16, uimm: u32) -> u32 {
    csr_op(7, rd, csr, uimm)
}
/// `csrr rd, csr`
pub fn csrr(rd: u32, csr: u16) -> u32 {
    csrrs(rd, csr, ZERO)
}
/// `csrw csr, rs1`
pub fn csrw(csr: u16, rs1: u32) -> u32 {
    csrrw(ZERO, csr, rs1)
}

/// `addi rd, rs1, imm` (imm in -2048..=2047)
pub fn addi(rd: u32, rs1: u32, imm: i32) -> u32 {
    (((imm as u32) & 0xfff) << 20) | ((rs1 & 31) << 15) | ((rd & 31) << 7) | 0x13
}

pub const ECALL: u32 = 0x0000_0073;
pub const EBREAK: u32 = 0x0010_0073;
pub const MRET: u32 = 0x3020_0073;
pub const SRET: u32 = 0x1020_0073;
pub const WFI: u32 = 0x1050_0073;
pub const NOP: u32 = 0x0000_0013;
/// `c.ebreak`
pub const C_EBREAK: u16 = 0x9002;

/// `sfence.vma rs1, rs2`
pub fn sfence_vma(rs1: u32, rs2: u32) -> u32 {
    (0b0001001 << 25) | ((rs2 & 31) << 20) | ((rs1 & 31) << 15) | SYSTEM
}

/// `sd rs2, off(rs1)`
pub fn sd(rs2: u32, rs1: u32, off: i32) -> u32 {
    let imm = (off as u32) & 0xfff;
    ((imm >> 5) << 25) | ((rs2 & 31) << 20) | ((rs1 & 31) << 15) | (3 << 12) | ((imm & 31) << 7) | 0x23
}
/// `ld rd, off(rs1)`
pub fn ld(rd: u32, rs1: u32, off: i32) -> u32 {
    (((off as u32) & 0xfff) << 20) | ((rs1 & 31) << 15) | (3 << 12) | ((rd & 31) << 7) | 0x03
}

/// I-type load `funct3` (0 lb, 1 lh, 2 lw, 3 ld, 4 lbu, 5 lhu, 6 lwu):
/// `rd = mem[rs1 + off]`.
pub fn load(funct3: u32, rd: u32, rs1: u32, off: i32) -> u32 {
    (((off as u32) & 0xfff) << 20) | ((rs1 & 31) << 15) | ((funct3 & 7) << 12) | ((rd & 31) << 7) | 0x03
}
/// S-type store `funct3` (0 sb, 1 sh, 2 sw, 3 sd): `mem[rs1 + off] = rs2`.
pub fn store(funct3: u32, rs2: u32, rs1: u32, off: i32) -> u32 {
    let imm = (off as u32) & 0xfff;
    ((imm >> 5) << 25)
        | ((rs2 & 31) << 20)
        | ((rs1 & 31) << 15)
        | ((funct3 & 7) << 12)
        | ((imm & 31) << 7)
        | 0x23
}
/// A-extension instruction: `funct5` (0 amoadd, 1 amoswap, 2 lr, 3 sc, ...),
/// `funct3` 2 = .w, 3 = .d; `op rd, rs2, (rs1)`.
pub fn amo(funct5: u32, funct3: u32, rd: u32, rs1: u32, rs2: u32) -> u32 {
    ((funct5 & 31) << 27)
        | ((rs2 & 31) << 20)
        | ((rs1 & 31) << 15)
        | ((funct3 & 7) << 12)
        | ((rd & 31) << 7)
        | 0x2f
}
/// `bne rs1, rs2, off` (`off` even, within ±4 KiB of the branch).
pub fn bne(rs1: u32, rs2: u32, off: i32) -> u32 {
    let o = off as u32;
    ((o >> 12) & 1) << 31
        | ((o >> 5) & 0x3f) << 25
        | (rs2 & 31) << 20
        | (rs1 & 31) << 15
        | 1 << 12
        | ((o >> 1) & 0xf) << 8
        | ((o >> 11) & 1) << 7
        | 0x63
}
/// `jalr rd, off(rs1)`
pub fn jalr(rd: u32, rs1: u32, off: i32) -> u32 {
    (((off as u32) & 0xfff) << 20) | ((rs1 & 31) << 15) | ((rd & 31) << 7) | 0x67
}
/// `auipc rd, imm20`
pub fn auipc(rd: u32, imm20: u32) -> u32 {
    (imm20 << 12) | ((rd & 31) << 7) | 0x17
}
/// `fld rd, off(rs1)` / `fsd rs2, off(rs1)`
pub fn fld(rd: u32, rs1: u32, off: i32) -> u32 {
    (((off as u32) & 0xfff) << 20) | ((rs1 & 31) << 15) | (3 << 12) | ((rd & 31) << 7) | 0x07
}
pub fn fsd(rs2: u32, rs1: u32, off: i32) -> u32 {
    let imm = (off as u32) & 0xfff;
    ((imm >> 5) << 25) | ((rs2 & 31) << 20) | ((rs1 & 31) << 15) | (3 << 12) | ((imm & 31) << 7) | 0x27
}
/// `fadd.d rd, rs1, rs2` with rounding mode `rm` (7 = dynamic, frm).
pub fn fadd_d(rd: u32, rs1: u32, rs2: u32, rm: u32) -> u32 {
    (1 << 25) | ((rs2 & 31) << 20) | ((rs1 & 31) << 15) | ((rm & 7) << 12) | ((rd & 31) << 7) | 0x53
}
/// `lui rd, imm20`
pub fn lui(rd: u32, imm20: u32) -> u32 {
    (imm20 << 12) | ((rd & 31) << 7) | 0x37
}
/// Instructions that put `value` (a sign-extended 32-bit number) in `rd`:
/// `lui` + `addi`.
pub fn li32(rd: u32, value: i32) -> [u32; 2] {
    let hi = (value.wrapping_add(0x800) as u32) >> 12;
    let lo = value.wrapping_sub((hi << 12) as i32);
    [lui(rd, hi & 0xf_ffff), addi(rd, rd, lo)]
}
pub const A7: u32 = 17;
