//! A small RV64IMAC encoder, independent of wemu's decoder (a bug shared by
//! the encoder and the decoder would otherwise hide itself).

pub fn r(f7: u32, rs2: u8, rs1: u8, f3: u32, rd: u8, opc: u32) -> u32 {
    (f7 << 25) | (u32::from(rs2) << 20) | (u32::from(rs1) << 15) | (f3 << 12) | (u32::from(rd) << 7) | opc
}

pub fn i(imm: i32, rs1: u8, f3: u32, rd: u8, opc: u32) -> u32 {
    assert!((-2048..2048).contains(&imm), "I-immediate {imm} out of range");
    (((imm as u32) & 0xfff) << 20) | (u32::from(rs1) << 15) | (f3 << 12) | (u32::from(rd) << 7) | opc
}

pub fn s(imm: i32, rs2: u8, rs1: u8, f3: u32, opc: u32) -> u32 {
    assert!((-2048..2048).contains(&imm), "S-immediate {imm} out of range");
    let imm = imm as u32;
    (((imm >> 5) & 0x7f) << 25)
        | (u32::from(rs2) << 20)
        | (u32::from(rs1) << 15)
        | (f3 << 12)
        | ((imm & 0x1f) << 7)
        | opc
}

pub fn b(off: i32, rs2: u8, rs1: u8, f3: u32) -> u32 {
    assert!(off % 2 == 0 && (-4096..4096).contains(&off));
    let o = off as u32;
    (((o >> 12) & 1) << 31)
        | (((o >> 5) & 0x3f) << 25)
        | (u32::from(rs2) << 20)
        | (u32::from(rs1) << 15)
        | (f3 << 12)
        | (((o >> 1) & 0xf) << 8)
        | (((o >> 11) & 1) << 7)
        | 0x63
}

pub fn u(imm20: u32, rd: u8, opc: u32) -> u32 {
    ((imm20 & 0xf_ffff) << 12) | (u32::from(rd) << 7) | opc
}

pub const LUI: u32 = 0x37;
pub const AUIPC: u32 = 0x17;
pub const OP: u32 = 0x33;
pub const OP32: u32 = 0x3b;
pub const OPIMM: u32 = 0x13;
pub const OPIMM32: u32 = 0x1b;
pub const LOAD: u32 = 0x03;
pub const STORE: u32 = 0x23;
pub const AMO: u32 = 0x2f;
pub const ECALL: u32 = 0x0000_0073;

pub fn addi(rd: u8, rs1: u8, imm: i32) -> u32 {
    i(imm, rs1, 0, rd, OPIMM)
}
pub fn ld(rd: u8, rs1: u8, imm: i32) -> u32 {
    i(imm, rs1, 3, rd, LOAD)
}
pub fn sd(rs2: u8, rs1: u8, imm: i32) -> u32 {
    s(imm, rs2, rs1, 3, STORE)
}

/// A-extension word: funct5, aq, rl, rs2, rs1, width (2 = .w, 3 = .d), rd.
pub fn amo(f5: u32, aq: bool, rl: bool, rs2: u8, rs1: u8, f3: u32, rd: u8) -> u32 {
    (f5 << 27)
        | (u32::from(aq) << 26)
        | (u32::from(rl) << 25)
        | (u32::from(rs2) << 20)
        | (u32::from(rs1) << 15)
        | (f3 << 12)
        | (u32::from(rd) << 7)
        | AMO
}

// ---- compressed ----

fn bit(v: u32, n: u32) -> u32 {
    (v >> n) & 1
}
fn bits(v: u32, hi: u32, lo: u32) -> u32 {
    (v >> lo) & ((1 << (hi - lo + 1)) - 1)
}
/// x8..x15 -> 3-bit field.
fn p(r: u8) -> u32 {
    assert!((8..16).contains(&r), "x{r} is not a compressed register");
    u32::from(r - 8)
}

/// CI format: imm[5] at 12, imm[4:0] at 6:2.
pub fn ci(f3: u32, op: u32, rd: u8, imm6: i32) -> u32 {
    let v = imm6 as u32;
    (f3 << 13) | (bit(v, 5) << 12) | (u32::from(rd) << 7) | (bits(v, 4, 0) << 2) | op
}

pub fn c_addi(rd: u8, imm: i32) -> u32 {
    ci(0, 1, rd, imm)
}
pub fn c_addiw(rd: u8, imm: i32) -> u32 {
    assert!(rd != 0);
    ci(1, 1, rd, imm)
}
pub fn c_li(rd: u8, imm: i32) -> u32 {
    ci(2, 1, rd, imm)
}
/// `nzimm` is imm[17:12] as a signed 6-bit value.
pub fn c_lui(rd: u8, nzimm: i32) -> u32 {
    assert!(rd != 0 && rd != 2 && nzimm != 0);
    ci(3, 1, rd, nzimm)
}
pub fn c_slli(rd: u8, shamt: u32) -> u32 {
    assert!(rd != 0 && shamt < 64);
    ci(0, 2, rd, shamt as i32)
}
/// nzuimm[5:4|9:6|2|3] at 12:5.
pub fn c_addi4spn(rdp: u8, nzuimm: u32) -> u32 {
    assert!(nzuimm != 0 && nzuimm.is_multiple_of(4) && nzuimm < 1024);
    let v = nzuimm;
    (bits(v, 5, 4) << 11) | (bits(v, 9, 6) << 7) | (bit(v, 2) << 6) | (bit(v, 3) << 5) | (p(rdp) << 2)
}
/// c.lw / c.sw (f3 2 / 6): uimm[5:3] at 12:10, uimm[2] at 6, uimm[6] at 5.
fn cl_w(f3: u32, rs1p: u8, rp: u8, uimm: u32) -> u32 {
    assert!(uimm.is_multiple_of(4) && uimm < 128);
    (f3 << 13)
        | (bits(uimm, 5, 3) << 10)
        | (p(rs1p) << 7)
        | (bit(uimm, 2) << 6)
        | (bit(uimm, 6) << 5)
        | (p(rp) << 2)
}
/// c.ld / c.sd (f3 3 / 7): uimm[5:3] at 12:10, uimm[7:6] at 6:5.
fn cl_d(f3: u32, rs1p: u8, rp: u8, uimm: u32) -> u32 {
    assert!(uimm.is_multiple_of(8) && uimm < 256);
    (f3 << 13) | (bits(uimm, 5, 3) << 10) | (p(rs1p) << 7) | (bits(uimm, 7, 6) << 5) | (p(rp) << 2)
}
pub fn c_lw(rdp: u8, rs1p: u8, uimm: u32) -> u32 {
    cl_w(2, rs1p, rdp, uimm)
}
pub fn c_sw(rs2p: u8, rs1p: u8, uimm: u32) -> u32 {
    cl_w(6, rs1p, rs2p, uimm)
}
pub fn c_ld(rdp: u8, rs1p: u8, uimm: u32) -> u32 {
    cl_d(3, rs1p, rdp, uimm)
}
pub fn c_sd(rs2p: u8, rs1p: u8, uimm: u32) -> u32 {
    cl_d(7, rs1p, rs2p, uimm)
}
/// Quadrant 1, funct3 100: c.srli (0), c.srai (1), c.andi (2).
fn cb_alu(kind: u32, rdp: u8, imm6: i32) -> u32 {
    let v = imm6 as u32;
    (4 << 13) | (bit(v, 5) << 12) | (kind << 10) | (p(rdp) << 7) | (bits(v, 4, 0) << 2) | 1
}
pub fn c_srli(rdp: u8, shamt: u32) -> u32 {
    assert!(shamt < 64);
    cb_alu(0, rdp, shamt as i32)
}
pub fn c_srai(rdp: u8, shamt: u32) -> u32 {
    assert!(shamt < 64);
    cb_alu(1, rdp, shamt as i32)
}
pub fn c_andi(rdp: u8, imm: i32) -> u32 {
    cb_alu(2, rdp, imm)
}
/// c.sub c.xor c.or c.and c.subw c.addw (op 0..6).
pub fn c_arith(op: u32, rdp: u8, rs2p: u8) -> u32 {
    assert!(op < 6);
    (4 << 13) | ((op >> 2) << 12) | (3 << 10) | (p(rdp) << 7) | ((op & 3) << 5) | (p(rs2p) << 2) | 1
}
pub const C_ARITH_NAMES: [&str; 6] = ["c.sub", "c.xor", "c.or", "c.and", "c.subw", "c.addw"];
pub fn c_mv(rd: u8, rs2: u8) -> u32 {
    assert!(rd != 0 && rs2 != 0);
    (4 << 13) | (u32::from(rd) << 7) | (u32::from(rs2) << 2) | 2
}
pub fn c_add(rd: u8, rs2: u8) -> u32 {
    assert!(rd != 0 && rs2 != 0);
    (4 << 13) | (1 << 12) | (u32::from(rd) << 7) | (u32::from(rs2) << 2) | 2
}
/// uimm[5] at 12, uimm[4:2|7:6] at 6:2.
pub fn c_lwsp(rd: u8, uimm: u32) -> u32 {
    assert!(rd != 0 && uimm.is_multiple_of(4) && uimm < 256);
    (2 << 13)
        | (bit(uimm, 5) << 12)
        | (u32::from(rd) << 7)
        | (bits(uimm, 4, 2) << 4)
        | (bits(uimm, 7, 6) << 2)
        | 2
}
/// uimm[5] at 12, uimm[4:3|8:6] at 6:2.
pub fn c_ldsp(rd: u8, uimm: u32) -> u32 {
    assert!(rd != 0 && uimm.is_multiple_of(8) && uimm < 512);
    (3 << 13)
        | (bit(uimm, 5) << 12)
        | (u32::from(rd) << 7)
        | (bits(uimm, 4, 3) << 5)
        | (bits(uimm, 8, 6) << 2)
        | 2
}
/// uimm[5:2|7:6] at 12:7.
pub fn c_swsp(rs2: u8, uimm: u32) -> u32 {
    assert!(uimm.is_multiple_of(4) && uimm < 256);
    (6 << 13) | (bits(uimm, 5, 2) << 9) | (bits(uimm, 7, 6) << 7) | (u32::from(rs2) << 2) | 2
}
/// uimm[5:3|8:6] at 12:7.
pub fn c_sdsp(rs2: u8, uimm: u32) -> u32 {
    assert!(uimm.is_multiple_of(8) && uimm < 512);
    (7 << 13) | (bits(uimm, 5, 3) << 10) | (bits(uimm, 8, 6) << 7) | (u32::from(rs2) << 2) | 2
}
pub const C_NOP: u32 = 0x0001;
/// offset[11|4|9:8|10|6|7|3:1|5] at 12:2.
pub fn c_j(off: i32) -> u32 {
    let o = off as u32;
    (5 << 13)
        | (bit(o, 11) << 12)
        | (bit(o, 4) << 11)
        | (bits(o, 9, 8) << 9)
        | (bit(o, 10) << 8)
        | (bit(o, 6) << 7)
        | (bit(o, 7) << 6)
        | (bits(o, 3, 1) << 3)
        | (bit(o, 5) << 2)
        | 1
}
/// c.beqz (f3 6) / c.bnez (f3 7): offset[8|4:3] at 12:10, offset[7:6|2:1|5] at 6:2.
pub fn c_bz(bnez: bool, rs1p: u8, off: i32) -> u32 {
    let o = off as u32;
    let f3 = if bnez { 7 } else { 6 };
    (f3 << 13)
        | (bit(o, 8) << 12)
        | (bits(o, 4, 3) << 10)
        | (p(rs1p) << 7)
        | (bits(o, 7, 6) << 5)
        | (bits(o, 2, 1) << 3)
        | (bit(o, 5) << 2)
        | 1
}

pub fn jal(rd: u8, off: i32) -> u32 {
    assert!(off % 2 == 0 && (-(1 << 20)..(1 << 20)).contains(&off));
    let o = off as u32;
    (bit(o, 20) << 31)
        | (bits(o, 10, 1) << 21)
        | (bit(o, 11) << 20)
        | (bits(o, 19, 12) << 12)
        | (u32::from(rd) << 7)
        | 0x6f
}
pub fn jalr(rd: u8, rs1: u8, imm: i32) -> u32 {
    i(imm, rs1, 0, rd, 0x67)
}
/// c.jr (link = false) / c.jalr (link = true, writes ra).
pub fn c_jr(link: bool, rs1: u8) -> u32 {
    assert!(rs1 != 0);
    (4 << 13) | (u32::from(link) << 12) | (u32::from(rs1) << 7) | 2
}
