use super::*;
use wemu_device_sdk::PropValue;
use wemu_device_sdk::testing::TestHost;

const CLAIM0: u64 = CONTEXT_BASE + 4;

fn plic_with(props: &[(&str, PropValue)]) -> Plic {
    TestHost::reset();
    let props = Props::new(props.iter().map(|(n, v)| ((*n).to_owned(), v.clone())).collect());
    Plic::create(&props).expect("create")
}

fn plic() -> Plic {
    plic_with(&[])
}

fn rd(p: &mut Plic, off: u64) -> u32 {
    p.read(0, off, 4).expect("read") as u32
}

fn wr(p: &mut Plic, off: u64, v: u32) {
    p.write(0, off, 4, u64::from(v)).expect("write");
}

fn line(n: u32) -> bool {
    TestHost::with(|h| h.irq(n))
}

fn enable(p: &mut Plic, ctx: u64, source: u32) {
    let off = ENABLE_BASE + ctx * ENABLE_STRIDE + u64::from(source / 32) * 4;
    let v = rd(p, off);
    wr(p, off, v | 1 << (source % 32));
}

#[test]
fn describes_qemu_virt_plic() {
    let d = plic().describe();
    assert_eq!(d.regions, vec![("regs".to_owned(), 0x60_0000)]);
    assert_eq!((d.irq_inputs, d.irq_outputs), (96, 2));
    let node = d.dt_node.expect("dt node");
    assert_eq!(node.name, "plic");
    assert_eq!(node.compatible, vec!["sifive,plic-1.0.0", "riscv,plic0"]);
    assert_eq!(
        node.properties,
        vec![
            ("#interrupt-cells".to_owned(), DtValue::Cells(vec![1])),
            ("#address-cells".to_owned(), DtValue::Cells(vec![0])),
            ("interrupt-controller".to_owned(), DtValue::Empty),
            ("riscv,ndev".to_owned(), DtValue::Cells(vec![95])),
        ]
    );
    let d = plic_with(&[("harts", PropValue::Int(4)), ("sources", PropValue::Int(33))]).describe();
    assert_eq!((d.irq_inputs, d.irq_outputs), (33, 8));
}

#[test]
fn a_pending_enabled_source_raises_its_context_and_claim_takes_it() {
    let mut p = plic();
    wr(&mut p, 4 * 10, 1);
    enable(&mut p, 0, 10);
    assert!(!line(0));
    p.irq_input(10, true);
    assert!(line(0), "context 0 (hart 0 M) raised");
    assert!(!line(1), "context 1 has nothing enabled");
    assert_eq!(rd(&mut p, PENDING_BASE), 1 << 10);
    assert_eq!(rd(&mut p, CLAIM0), 10);
    assert!(!line(0), "claimed: the line drops");
    assert_eq!(rd(&mut p, PENDING_BASE), 0, "claim clears pending");
    assert_eq!(rd(&mut p, CLAIM0), 0, "nothing left to claim");
    p.irq_input(10, false);
    wr(&mut p, CLAIM0, 10);
    assert!(!line(0), "completed with the input low: nothing pending");
    assert_eq!(rd(&mut p, CLAIM0), 0);
}

#[test]
fn completion_re_pends_a_source_whose_level_is_still_high() {
    let mut p = plic();
    wr(&mut p, 4 * 3, 2);
    enable(&mut p, 0, 3);
    p.irq_input(3, true);
    assert_eq!(rd(&mut p, CLAIM0), 3);
    assert!(!line(0));
    wr(&mut p, CLAIM0, 3);
    assert!(line(0), "still high after completion: pending again");
    assert_eq!(rd(&mut p, CLAIM0), 3);
}

#[test]
fn a_rising_edge_while_claimed_is_kept_for_after_completion() {
    let mut p = plic();
    wr(&mut p, 4 * 3, 2);
    enable(&mut p, 0, 3);
    p.irq_input(3, true);
    assert_eq!(rd(&mut p, CLAIM0), 3);
    p.irq_input(3, false);
    p.irq_input(3, true);
    assert!(!line(0), "claimed sources do not interrupt");
    assert_eq!(rd(&mut p, PENDING_BASE), 1 << 3, "but they do pend");
    p.irq_input(3, false);
    wr(&mut p, CLAIM0, 3);
    assert!(line(0), "the edge seen during the claim is delivered");
}

#[test]
fn a_dropped_level_does_not_clear_pending() {
    let mut p = plic();
    wr(&mut p, 4 * 7, 1);
    enable(&mut p, 0, 7);
    p.irq_input(7, true);
    p.irq_input(7, false);
    assert!(line(0));
    assert_eq!(rd(&mut p, CLAIM0), 7);
}

#[test]
fn claim_picks_highest_priority_then_lowest_id() {
    let mut p = plic();
    for (s, prio) in [(5, 3), (9, 6), (12, 6), (40, 2)] {
        wr(&mut p, 4 * s, prio);
        enable(&mut p, 0, s as u32);
        p.irq_input(s as u32, true);
    }
    let order: Vec<u32> = (0..5).map(|_| rd(&mut p, CLAIM0)).collect();
    assert_eq!(order, vec![9, 12, 5, 40, 0]);
}

#[test]
fn threshold_masks_priorities_at_or_below_it() {
    let mut p = plic();
    wr(&mut p, 4 * 10, 3);
    enable(&mut p, 0, 10);
    wr(&mut p, CONTEXT_BASE, 3);
    p.irq_input(10, true);
    assert!(!line(0), "priority 3 is not above threshold 3");
    assert_eq!(rd(&mut p, CLAIM0), 0, "nor claimable");
    wr(&mut p, CONTEXT_BASE, 2);
    assert!(line(0));
    wr(&mut p, CONTEXT_BASE, 3);
    assert!(!line(0), "raising the threshold lowers the line");
    wr(&mut p, 4 * 10, 4);
    assert!(line(0), "raising the priority raises it again");
}

#[test]
fn priority_zero_never_interrupts() {
    let mut p = plic();
    enable(&mut p, 0, 10);
    p.irq_input(10, true);
    assert!(!line(0));
    assert_eq!(rd(&mut p, PENDING_BASE), 1 << 10, "pending all the same");
}

#[test]
fn contexts_are_hart_m_then_s_and_independent() {
    let mut p = plic_with(&[("harts", PropValue::Int(2))]);
    wr(&mut p, 4 * 10, 1);
    enable(&mut p, 3, 10); // hart 1 S-mode
    p.irq_input(10, true);
    assert_eq!((line(0), line(1), line(2), line(3)), (false, false, false, true));
    enable(&mut p, 0, 10);
    assert!(line(0), "enabling a pending source raises the line at once");
    assert_eq!(rd(&mut p, CONTEXT_BASE + 3 * CONTEXT_STRIDE + 4), 10, "hart 1 S claims");
    assert_eq!((line(0), line(3)), (false, false), "a claim removes the source from every context");
    assert_eq!(rd(&mut p, CLAIM0), 0);
    // Per-context thresholds.
    wr(&mut p, CONTEXT_BASE + 2 * CONTEXT_STRIDE, 5);
    assert_eq!(rd(&mut p, CONTEXT_BASE + 2 * CONTEXT_STRIDE), 5);
    assert_eq!(rd(&mut p, CONTEXT_BASE), 0);
}

#[test]
fn completion_from_any_context_and_out_of_range_ids() {
    let mut p = plic_with(&[("harts", PropValue::Int(2))]);
    wr(&mut p, 4 * 10, 1);
    enable(&mut p, 0, 10);
    p.irq_input(10, true);
    assert_eq!(rd(&mut p, CLAIM0), 10);
    p.irq_input(10, false);
    p.irq_input(10, true);
    // QEMU: any context may complete any source below `sources`.
    wr(&mut p, CONTEXT_BASE + 3 * CONTEXT_STRIDE + 4, 10);
    assert!(line(0));
    wr(&mut p, CLAIM0, 96); // ignored, no panic
    wr(&mut p, CLAIM0, 0xffff_ffff);
    assert!(line(0));
}

#[test]
fn priority_and_threshold_are_warl_like_qemu() {
    let mut p = plic();
    wr(&mut p, 4 * 10, 3);
    assert_eq!(rd(&mut p, 4 * 10), 3);
    wr(&mut p, 4 * 10, 9);
    assert_eq!(rd(&mut p, 4 * 10), 1, "9 % 8 (QEMU 7.2 keeps the supported bits)");
    wr(&mut p, CONTEXT_BASE, 15);
    assert_eq!(rd(&mut p, CONTEXT_BASE), 7);
    // Not a power of two: out-of-range values are ignored.
    let mut p = plic_with(&[("priorities", PropValue::Int(5))]);
    wr(&mut p, 4 * 10, 4);
    wr(&mut p, 4 * 10, 6);
    assert_eq!(rd(&mut p, 4 * 10), 4);
    wr(&mut p, CONTEXT_BASE, 5);
    wr(&mut p, CONTEXT_BASE, 7);
    assert_eq!(rd(&mut p, CONTEXT_BASE), 5);
}

#[test]
fn reserved_and_unimplemented_offsets_read_zero_and_ignore_writes() {
    let mut p = plic();
    wr(&mut p, 0, 5);
    assert_eq!(rd(&mut p, 0), 0, "source 0 priority is reserved");
    wr(&mut p, PENDING_BASE, 0xffff);
    assert_eq!(rd(&mut p, PENDING_BASE), 0, "pending is read-only");
    wr(&mut p, ENABLE_BASE + 12, u32::MAX);
    assert_eq!(rd(&mut p, ENABLE_BASE + 12), 0, "96 sources: 3 enable words");
    wr(&mut p, ENABLE_BASE + 2 * ENABLE_STRIDE, u32::MAX);
    assert_eq!(rd(&mut p, ENABLE_BASE + 2 * ENABLE_STRIDE), 0, "one hart: 2 contexts");
    wr(&mut p, CONTEXT_BASE + 2 * CONTEXT_STRIDE, 3);
    assert_eq!(rd(&mut p, CONTEXT_BASE + 2 * CONTEXT_STRIDE), 0);
    assert_eq!(rd(&mut p, CONTEXT_BASE + 8), 0);
    assert_eq!(rd(&mut p, 4 * 96), 0, "no source 96");
    assert_eq!(rd(&mut p, WINDOW - 4), 0);
    assert!(TestHost::with(|h| h.irq_calls.is_empty()));
}

#[test]
fn enable_words_are_stored_as_written() {
    let mut p = plic();
    wr(&mut p, ENABLE_BASE, u32::MAX);
    assert_eq!(rd(&mut p, ENABLE_BASE), u32::MAX, "bit 0 included, as QEMU");
    wr(&mut p, ENABLE_BASE + ENABLE_STRIDE + 8, 0x8000_0001);
    assert_eq!(rd(&mut p, ENABLE_BASE + ENABLE_STRIDE + 8), 0x8000_0001);
}

#[test]
fn only_4_byte_accesses() {
    let mut p = plic();
    for size in [1, 2, 8] {
        assert_eq!(p.read(0, 0x28, size), Err(AccessError::InvalidSize));
        assert_eq!(p.write(0, 0x28, size, 1), Err(AccessError::InvalidSize));
    }
    assert_eq!(rd(&mut p, 0x28), 0, "the refused writes changed nothing");
}

#[test]
fn input_zero_and_out_of_range_inputs_are_ignored() {
    let mut p = plic();
    wr(&mut p, ENABLE_BASE, u32::MAX);
    p.irq_input(0, true);
    p.irq_input(96, true);
    p.irq_input(u32::MAX, true);
    assert_eq!(rd(&mut p, PENDING_BASE), 0);
    assert!(!line(0));
}

#[test]
fn sources_above_32_use_later_words() {
    let mut p = plic();
    wr(&mut p, 4 * 95, 7);
    enable(&mut p, 1, 95);
    p.irq_input(95, true);
    assert_eq!(rd(&mut p, PENDING_BASE + 8), 1 << 31);
    assert!(line(1));
    assert_eq!(rd(&mut p, CONTEXT_BASE + CONTEXT_STRIDE + 4), 95);
}

#[test]
fn hart_config_gives_qemu_context_numbering() {
    assert_eq!(
        parse_hart_config("M,MS").expect("valid"),
        vec![
            Context { hart: 0, mode: Mode::M },
            Context { hart: 1, mode: Mode::M },
            Context { hart: 1, mode: Mode::S },
        ]
    );
    let mut p = plic_with(&[("hart-config", PropValue::Text("M,MS".into()))]);
    assert_eq!(p.describe().irq_outputs, 3);
    wr(&mut p, 4 * 10, 1);
    enable(&mut p, 2, 10);
    p.irq_input(10, true);
    assert_eq!((line(0), line(1), line(2)), (false, false, true));
    // A U-mode context exists (registers) but drives nothing.
    let mut p = plic_with(&[("hart-config", PropValue::Text("U".into()))]);
    wr(&mut p, 4 * 10, 1);
    enable(&mut p, 0, 10);
    p.irq_input(10, true);
    assert!(!line(0));
    assert_eq!(rd(&mut p, CLAIM0), 10, "but can claim");
}

#[test]
fn bad_properties_are_named() {
    TestHost::reset();
    let create = |items: &[(&str, PropValue)]| {
        Plic::create(&Props::new(items.iter().map(|(n, v)| ((*n).to_owned(), v.clone())).collect()))
            .expect_err("refused")
    };
    assert!(create(&[("sources", PropValue::Int(0))]).contains("'sources'"));
    assert!(create(&[("sources", PropValue::Int(1025))]).contains("'sources'"));
    assert!(create(&[("harts", PropValue::Int(0))]).contains("'harts'"));
    assert!(create(&[("harts", PropValue::Int(513))]).contains("contexts"));
    assert!(create(&[("priorities", PropValue::Int(0))]).contains("'priorities'"));
    assert!(create(&[("hart-config", PropValue::Text("MX".into()))]).contains("invalid mode 'X'"));
    assert!(create(&[("hart-config", PropValue::Text("MM".into()))]).contains("duplicate"));
    assert!(create(&[("hart-config", PropValue::Text("M,,S".into()))]).contains("no modes"));
    let e = create(&[("hart-config", PropValue::Text("MS".into())), ("harts", PropValue::Int(2))]);
    assert!(e.contains("describes 1 hart(s)"), "{e}");
    assert!(create(&[("harts", PropValue::Text("$harts".into()))]).contains("must be an integer"));
    assert!(create(&[("colour", PropValue::Int(1))]).contains("'colour'"));
    // 512 harts (QEMU virt's maximum) fill the window exactly.
    assert!(
        Plic::create(&Props::new(vec![("harts".to_owned(), PropValue::Int(512))])).is_ok(),
        "512 harts fit"
    );
}

#[test]
fn reset_lowers_lines_and_clears_everything() {
    let mut p = plic();
    wr(&mut p, 4 * 10, 1);
    enable(&mut p, 0, 10);
    p.irq_input(10, true);
    assert!(line(0));
    p.reset();
    assert!(!line(0));
    assert_eq!(rd(&mut p, 4 * 10), 0);
    assert_eq!(rd(&mut p, ENABLE_BASE), 0);
    assert_eq!(rd(&mut p, PENDING_BASE), 0);
    // The host's router forgets levels at a machine reset: so does the model.
    p.irq_input(10, true);
    assert_eq!(rd(&mut p, PENDING_BASE), 1 << 10, "a new rising edge is seen");
}

#[test]
fn save_restore_round_trips_and_redrives_lines() {
    let mut p = plic();
    wr(&mut p, 4 * 10, 2);
    enable(&mut p, 0, 10);
    p.irq_input(10, true);
    let snap = p.save();
    let mut q = plic();
    assert!(!line(0));
    q.restore(&snap).expect("restore");
    assert_eq!(p, q);
    assert!(line(0), "restore drives the saved level");
    assert!(q.restore(b"junk").is_err());
    let mut two = plic_with(&[("harts", PropValue::Int(2))]);
    assert!(two.restore(&snap).unwrap_err().contains("contexts"));
}
