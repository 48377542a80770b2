//! NS16550A UART, register-compatible with QEMU's `serial` as used by the
//! riscv `virt` board (compatible "ns16550a").
//!
//! | off | DLAB=0 read | DLAB=0 write | DLAB=1 |
//! |-----|-------------|--------------|--------|
//! | 0   | RBR         | THR          | DLL    |
//! | 1   | IER         | IER          | DLM    |
//! | 2   | IIR         | FCR          |        |
//! | 3   | LCR         | LCR          |        |
//! | 4   | MCR         | MCR          |        |
//! | 5   | LSR         | (ignored)    |        |
//! | 6   | MSR         | (ignored)    |        |
//! | 7   | SCR         | SCR          |        |
//!
//! Offsets are multiplied by `1 << reg-shift`. Transmission is immediate
//! (no baud-rate pacing); bytes the backend cannot take wait in the 16-byte
//! TX FIFO. Input arrives through `char_input` and never overruns: the host
//! holds what the RX FIFO cannot take. With FIFOs on and fewer bytes than
//! the trigger level, the character-timeout interrupt is reported at once
//! instead of after four character times (partial: no timing model).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use wemu_device_sdk::{AccessError, Description, Device, DtNode, Props, chardev, irq, log};

const FIFO_LEN: usize = 16;

// IER bits.
const IER_RDI: u8 = 0x01; // received data available
const IER_THRI: u8 = 0x02; // THR empty
const IER_RLSI: u8 = 0x04; // receiver line status
const IER_MSI: u8 = 0x08; // modem status

// IIR values (bits 3:0); bits 7:6 report FIFOs enabled.
const IIR_NO_INT: u8 = 0x01;
const IIR_MSI: u8 = 0x00;
const IIR_THRI: u8 = 0x02;
const IIR_RDI: u8 = 0x04;
const IIR_RLSI: u8 = 0x06;
const IIR_CTI: u8 = 0x0c;
const IIR_FIFO_ON: u8 = 0xc0;

// FCR bits.
const FCR_ENABLE: u8 = 0x01;
const FCR_CLEAR_RX: u8 = 0x02;
const FCR_CLEAR_TX: u8 = 0x04;

const LCR_DLAB: u8 = 0x80;
const MCR_LOOP: u8 = 0x10;

// LSR bits.
const LSR_DR: u8 = 0x01;
const LSR_OE: u8 = 0x02;
const LSR_BI: u8 = 0x10;
const LSR_THRE: u8 = 0x20;
const LSR_TEMT: u8 = 0x40;

// MSR bits: deltas in 3:0, lines in 7:4.
const MSR_CTS: u8 = 0x10;
const MSR_DSR: u8 = 0x20;
const MSR_RI: u8 = 0x40;
const MSR_DCD: u8 = 0x80;
const MSR_DELTAS: u8 = 0x0f;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Ns16550a {
    // Configuration (from properties).
    reg_shift: u32,
    clock_frequency: u32,
    // Registers.
    ier: u8,
    lcr: u8,
    mcr: u8,
    lsr_errors: u8,
    msr: u8,
    scr: u8,
    dll: u8,
    dlm: u8,
    fcr: u8,
    rx: VecDeque<u8>,
    tx: VecDeque<u8>,
    /// THR-empty interrupt latch: set when THR empties, cleared by reading
    /// IIR while it is the reported source or by writing THR.
    thr_ipending: bool,
    irq_level: bool,
}

impl Ns16550a {
    fn fifo_enabled(&self) -> bool {
        self.fcr & FCR_ENABLE != 0
    }

    fn rx_capacity(&self) -> usize {
        if self.fifo_enabled() { FIFO_LEN } else { 1 }
    }

    fn rx_trigger(&self) -> usize {
        match self.fcr >> 6 {
            0 => 1,
            1 => 4,
            2 => 8,
            _ => 14,
        }
    }

    fn lsr(&self) -> u8 {
        let mut lsr = self.lsr_errors;
        if !self.rx.is_empty() {
            lsr |= LSR_DR;
        }
        if self.tx.is_empty() {
            lsr |= LSR_THRE | LSR_TEMT;
        }
        lsr
    }

    /// The highest-priority pending interrupt, as IIR bits 3:0.
    fn pending(&self) -> u8 {
        if self.ier & IER_RLSI != 0 && self.lsr_errors & (LSR_OE | LSR_BI) != 0 {
            return IIR_RLSI;
        }
        if self.ier & IER_RDI != 0 && !self.rx.is_empty() {
            if !self.fifo_enabled() || self.rx.len() >= self.rx_trigger() {
                return IIR_RDI;
            }
            return IIR_CTI;
        }
        if self.ier & IER_THRI != 0 && self.thr_ipending {
            return IIR_THRI;
        }
        if self.ier & IER_MSI != 0 && self.msr & MSR_DELTAS != 0 {
            return IIR_MSI;
        }
        IIR_NO_INT
    }

    fn update_irq(&mut self) {
        let level = self.pending() != IIR_NO_INT;
        if level != self.irq_level {
            self.irq_level = level;
            irq::set(0, level);
        }
    }

    /// Push waiting TX bytes to the backend (or back into RX in loopback).
    fn drain_tx(&mut self) {
        if self.tx.is_empty() {
            return;
        }
        if self.mcr & MCR_LOOP != 0 {
            while let Some(b) = self.tx.pop_front() {
                if self.rx.len() < self.rx_capacity() {
                    self.rx.push_back(b);
                } else {
                    self.lsr_errors |= LSR_OE;
                }
            }
        } else {
            let (a, b) = self.tx.as_slices();
            let buf = [a, b].concat();
            let taken = chardev::write(0, &buf) as usize;
            self.tx.drain(..taken.min(buf.len()));
        }
        if self.tx.is_empty() {
            self.thr_ipending = true;
        }
    }

    /// MSR line bits: in loopback they follow MCR, else a connected modem.
    fn msr_lines(&self) -> u8 {
        if self.mcr & MCR_LOOP != 0 {
            let m = self.mcr;
            ((m & 0x02) << 3) | ((m & 0x01) << 5) | ((m & 0x04) << 4) | ((m & 0x08) << 4)
        } else {
            MSR_CTS | MSR_DSR | MSR_DCD
        }
    }

    fn set_mcr(&mut self, value: u8) {
        let before = self.msr_lines();
        self.mcr = value & 0x1f;
        let after = self.msr_lines();
        let changed = before ^ after;
        // Delta bits: DCTS, DDSR, TERI (RI falling edge), DDCD.
        let mut deltas = 0;
        if changed & MSR_CTS != 0 {
            deltas |= 0x01;
        }
        if changed & MSR_DSR != 0 {
            deltas |= 0x02;
        }
        if before & MSR_RI != 0 && after & MSR_RI == 0 {
            deltas |= 0x04;
        }
        if changed & MSR_DCD != 0 {
            deltas |= 0x08;
        }
        self.msr = (self.msr & MSR_DELTAS) | deltas | after;
    }

    fn reg_index(&self, offset: u64) -> Result<u64, AccessError> {
        let stride_mask = (1u64 << self.reg_shift) - 1;
        if offset & stride_mask != 0 {
            return Err(AccessError::InvalidOffset);
        }
        let reg = offset >> self.reg_shift;
        if reg > 7 { Err(AccessError::InvalidOffset) } else { Ok(reg) }
    }

    fn power_on(reg_shift: u32, clock_frequency: u32) -> Self {
        let mut uart = Ns16550a {
            reg_shift,
            clock_frequency,
            ier: 0,
            lcr: 0,
            mcr: 0,
            lsr_errors: 0,
            msr: 0,
            scr: 0,
            dll: 0,
            dlm: 0,
            fcr: 0,
            rx: VecDeque::with_capacity(FIFO_LEN),
            tx: VecDeque::with_capacity(FIFO_LEN),
            thr_ipending: false,
            irq_level: false,
        };
        uart.msr = uart.msr_lines();
        uart
    }
}

impl Device for Ns16550a {
    fn create(props: &Props) -> Result<Self, String> {
        let reg_shift = props.u32_or("reg-shift", 0)?;
        if reg_shift > 3 {
            return Err(format!("property 'reg-shift' = {reg_shift} must be 0..=3"));
        }
        let clock_frequency = props.u32_or("clock-frequency", 3_686_400)?;
        props.finish()?;
        Ok(Self::power_on(reg_shift, clock_frequency))
    }

    fn describe(&self) -> Description {
        let mut node = DtNode::new("serial", &["ns16550a"]).prop_u32("clock-frequency", self.clock_frequency);
        if self.reg_shift != 0 {
            node = node.prop_u32("reg-shift", self.reg_shift);
        }
        Description::new("ns16550a", env!("CARGO_PKG_VERSION"))
            .region("regs", 0x100)
            .irq_outputs(1)
            .dt_node(node)
    }

    fn reset(&mut self) {
        let was_high = self.irq_level;
        *self = Self::power_on(self.reg_shift, self.clock_frequency);
        if was_high {
            irq::set(0, false);
        }
    }

    fn read(&mut self, _region: u32, offset: u64, _size: u8) -> Result<u64, AccessError> {
        let dlab = self.lcr & LCR_DLAB != 0;
        let value = match self.reg_index(offset)? {
            0 if dlab => self.dll,
            0 => {
                let b = self.rx.pop_front().unwrap_or(0);
                self.update_irq();
                b
            }
            1 if dlab => self.dlm,
            1 => self.ier,
            2 => {
                let id = self.pending();
                // Reading IIR while it reports THR-empty acknowledges it.
                if id == IIR_THRI {
                    self.thr_ipending = false;
                    self.update_irq();
                }
                id | if self.fifo_enabled() { IIR_FIFO_ON } else { 0 }
            }
            3 => self.lcr,
            4 => self.mcr,
            5 => {
                self.drain_tx();
                let lsr = self.lsr();
                self.lsr_errors = 0; // error bits clear on read
                self.update_irq();
                lsr
            }
            6 => {
                let msr = self.msr;
                self.msr &= !MSR_DELTAS;
                self.update_irq();
                msr
            }
            _ => self.scr,
        };
        Ok(u64::from(value))
    }

    fn write(&mut self, _region: u32, offset: u64, _size: u8, value: u64) -> Result<(), AccessError> {
        let v = value as u8;
        let dlab = self.lcr & LCR_DLAB != 0;
        match self.reg_index(offset)? {
            0 if dlab => self.dll = v,
            0 => {
                if self.tx.len() < FIFO_LEN {
                    self.tx.push_back(v);
                } else {
                    log::debug("TX FIFO full: byte dropped");
                }
                self.thr_ipending = false;
                self.drain_tx();
            }
            1 if dlab => self.dlm = v,
            1 => {
                let was = self.ier;
                self.ier = v & 0x0f;
                // Enabling THRI with an empty THR raises it at once (as 16550s do).
                if was & IER_THRI == 0 && self.ier & IER_THRI != 0 && self.tx.is_empty() {
                    self.thr_ipending = true;
                }
            }
            2 => {
                if v & FCR_CLEAR_RX != 0 {
                    self.rx.clear();
                }
                if v & FCR_CLEAR_TX != 0 {
                    self.tx.clear();
                    self.thr_ipending = true;
                }
                if (v ^ self.fcr) & FCR_ENABLE != 0 {
                    // Toggling FIFO mode empties both FIFOs.
                    self.rx.clear();
                    self.tx.clear();
                }
                self.fcr = v & 0xc1;
            }
            3 => self.lcr = v,
            4 => self.set_mcr(v),
            5 | 6 => {} // read-only on a 16550A
            _ => self.scr = v,
        }
        self.update_irq();
        Ok(())
    }

    fn char_input(&mut self, port: u32, data: &[u8]) -> u32 {
        if port != 0 || self.mcr & MCR_LOOP != 0 {
            return 0;
        }
        let room = self.rx_capacity().saturating_sub(self.rx.len());
        let n = room.min(data.len());
        self.rx.extend(&data[..n]);
        self.update_irq();
        n as u32
    }

    fn save(&self) -> Vec<u8> {
        wemu_device_sdk::snapshot::save(self)
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        let restored: Ns16550a = wemu_device_sdk::snapshot::restore(state)?;
        if restored.rx.len() > FIFO_LEN || restored.tx.len() > FIFO_LEN || restored.reg_shift > 3 {
            return Err("ns16550a state out of range".to_owned());
        }
        *self = restored;
        Ok(())
    }
}

wemu_device_sdk::export_device!(Ns16550a);

#[cfg(test)]
mod tests {
    use super::*;
    use wemu_device_sdk::PropValue;
    use wemu_device_sdk::testing::TestHost;

    const RBR: u64 = 0;
    const IER: u64 = 1;
    const IIR: u64 = 2;
    const LCR: u64 = 3;
    const MCR: u64 = 4;
    const LSR: u64 = 5;
    const MSR: u64 = 6;
    const SCR: u64 = 7;

    fn uart() -> Ns16550a {
        TestHost::reset();
        Ns16550a::create(&Props::default()).unwrap()
    }
    fn rd(u: &mut Ns16550a, reg: u64) -> u8 {
        u.read(0, reg, 1).unwrap() as u8
    }
    fn wr(u: &mut Ns16550a, reg: u64, v: u8) {
        u.write(0, reg, 1, u64::from(v)).unwrap();
    }
    fn irq() -> bool {
        TestHost::with(|h| h.irq(0))
    }

    #[test]
    fn thr_writes_reach_the_backend() {
        let mut u = uart();
        for b in b"hi\n" {
            wr(&mut u, RBR, *b);
        }
        assert_eq!(TestHost::with(|h| h.take_output(0)), b"hi\n");
        assert_eq!(rd(&mut u, LSR) & (LSR_THRE | LSR_TEMT), LSR_THRE | LSR_TEMT);
    }

    #[test]
    fn a_full_backend_holds_bytes_in_the_tx_fifo() {
        let mut u = uart();
        TestHost::with(|h| h.char_capacity = Some(0));
        wr(&mut u, RBR, b'a');
        assert_eq!(rd(&mut u, LSR) & LSR_THRE, 0);
        TestHost::with(|h| h.char_capacity = None);
        assert_ne!(rd(&mut u, LSR) & LSR_THRE, 0, "LSR read retries the backend");
        assert_eq!(TestHost::with(|h| h.take_output(0)), b"a");
    }

    #[test]
    fn divisor_latch_is_behind_dlab() {
        let mut u = uart();
        wr(&mut u, LCR, LCR_DLAB | 0x03);
        wr(&mut u, 0, 0x01);
        wr(&mut u, 1, 0x02);
        wr(&mut u, LCR, 0x03);
        assert_eq!(rd(&mut u, IER), 0, "IER untouched by DLM write");
        assert!(TestHost::with(|h| h.take_output(0)).is_empty(), "DLL write is not THR");
        wr(&mut u, LCR, LCR_DLAB | 0x03);
        assert_eq!((rd(&mut u, 0), rd(&mut u, 1)), (0x01, 0x02));
    }

    #[test]
    fn received_bytes_set_dr_and_raise_rdi_when_enabled() {
        let mut u = uart();
        assert_eq!(u.char_input(0, b"x"), 1);
        assert_eq!(rd(&mut u, LSR) & LSR_DR, LSR_DR);
        assert!(!irq(), "no interrupt while IER is 0");
        wr(&mut u, IER, IER_RDI);
        assert!(irq());
        assert_eq!(rd(&mut u, IIR), IIR_RDI);
        assert_eq!(rd(&mut u, RBR), b'x');
        assert!(!irq());
        assert_eq!(rd(&mut u, IIR), IIR_NO_INT);
    }

    #[test]
    fn rx_takes_only_what_fits() {
        let mut u = uart();
        assert_eq!(u.char_input(0, b"abc"), 1, "no FIFO: one byte holding register");
        wr(&mut u, IIR, FCR_ENABLE); // FCR
        assert_eq!(u.char_input(0, &[0; 20]), 16);
        assert_eq!(u.char_input(0, b"z"), 0);
    }

    #[test]
    fn fifo_trigger_level_and_timeout() {
        let mut u = uart();
        wr(&mut u, IIR, FCR_ENABLE | 0x40); // trigger level 4
        wr(&mut u, IER, IER_RDI);
        u.char_input(0, b"ab");
        assert_eq!(rd(&mut u, IIR), IIR_CTI | IIR_FIFO_ON);
        u.char_input(0, b"cd");
        assert_eq!(rd(&mut u, IIR), IIR_RDI | IIR_FIFO_ON);
    }

    #[test]
    fn thr_empty_interrupt_is_acknowledged_by_iir_read() {
        let mut u = uart();
        wr(&mut u, IER, IER_THRI);
        assert!(irq());
        assert_eq!(rd(&mut u, IIR), IIR_THRI);
        assert!(!irq());
        wr(&mut u, RBR, b'q');
        assert!(irq(), "THR emptied again after the byte went out");
    }

    #[test]
    fn loopback_routes_tx_to_rx_and_mcr_to_msr() {
        let mut u = uart();
        wr(&mut u, MCR, MCR_LOOP | 0x0b); // DTR, RTS, OUT2
        wr(&mut u, RBR, b'L');
        assert!(TestHost::with(|h| h.take_output(0)).is_empty());
        assert_eq!(rd(&mut u, RBR), b'L');
        let msr = rd(&mut u, MSR);
        assert_eq!(msr & 0xf0, MSR_CTS | MSR_DSR | MSR_DCD);
        assert_eq!(rd(&mut u, MSR) & MSR_DELTAS, 0, "deltas clear on read");
    }

    #[test]
    fn modem_status_interrupt() {
        let mut u = uart();
        wr(&mut u, MCR, MCR_LOOP);
        let _ = rd(&mut u, MSR);
        wr(&mut u, IER, IER_MSI);
        wr(&mut u, MCR, MCR_LOOP | 0x02); // RTS → CTS changes
        assert_eq!(rd(&mut u, IIR), IIR_MSI);
        let _ = rd(&mut u, MSR);
        assert_eq!(rd(&mut u, IIR), IIR_NO_INT);
    }

    #[test]
    fn overrun_in_loopback_sets_oe_and_line_status_interrupt() {
        let mut u = uart();
        wr(&mut u, MCR, MCR_LOOP);
        wr(&mut u, IER, IER_RLSI);
        wr(&mut u, RBR, 1);
        wr(&mut u, RBR, 2); // no FIFO: second byte overruns
        assert_eq!(rd(&mut u, IIR), IIR_RLSI);
        assert_ne!(rd(&mut u, LSR) & LSR_OE, 0);
        assert_eq!(rd(&mut u, LSR) & LSR_OE, 0, "OE clears on LSR read");
    }

    #[test]
    fn scratch_and_reg_shift() {
        TestHost::reset();
        let props = Props::new(vec![("reg-shift".into(), PropValue::Int(2))]);
        let mut u = Ns16550a::create(&props).unwrap();
        u.write(0, SCR << 2, 4, 0x5a).unwrap();
        assert_eq!(u.read(0, SCR << 2, 4), Ok(0x5a));
        assert_eq!(u.read(0, 1, 1), Err(AccessError::InvalidOffset));
        assert_eq!(u.read(0, 8 << 2, 1), Err(AccessError::InvalidOffset));
    }

    #[test]
    fn save_restore_round_trips_and_rejects_garbage() {
        let mut u = uart();
        wr(&mut u, IIR, FCR_ENABLE);
        u.char_input(0, b"abc");
        wr(&mut u, SCR, 9);
        let snap = u.save();
        let mut v = uart();
        v.restore(&snap).unwrap();
        assert_eq!(u, v);
        assert!(v.restore(b"nope").is_err());
    }

    #[test]
    fn reset_lowers_the_line_and_clears_state() {
        let mut u = uart();
        wr(&mut u, IER, IER_THRI);
        assert!(irq());
        u.reset();
        assert!(!irq());
        assert_eq!(rd(&mut u, IER), 0);
    }

    #[test]
    fn describe_matches_qemu_virt() {
        let u = uart();
        let d = u.describe();
        assert_eq!(d.regions, vec![("regs".to_owned(), 0x100)]);
        assert_eq!(d.irq_outputs, 1);
        let node = d.dt_node.unwrap();
        assert_eq!(node.compatible, vec!["ns16550a"]);
    }
}
