// doorbell: a scratch register and a doorbell that raises an interrupt,
// written in JavaScript and built into a wemu device component with
// componentize-js (see docs/device-authoring-js.md).
//
// | off  | reg      | access | meaning                                        |
// |------|----------|--------|------------------------------------------------|
// | 0x00 | ID       | RO     | 0x4a534442 ("JSDB")                            |
// | 0x04 | SCRATCH  | RW     | 32 bits kept for the guest (reset: `scratch`)  |
// | 0x08 | DOORBELL | WO     | ORs the written bits into STATUS, counts rings |
// | 0x0c | STATUS   | W1C    | pending doorbell bits; IRQ 0 is high while != 0|
// | 0x10 | RINGS    | RO     | doorbell writes with a non-zero value so far   |
//
// Every register is 32 bits wide; other sizes are refused (invalid-size),
// unknown offsets too (invalid-offset), and the guest sees an access fault.
//
// Contract mapping (jco/componentize-js conventions): u64 is a BigInt,
// u32/u8 are Numbers, enums are strings, variants are { tag, val },
// `result<T, E>` returns T or throws E, list<u8> is a Uint8Array.

import { log } from 'wemu:device/log@0.1.0';
import { set as setIrq } from 'wemu:device/irq@0.1.0';

const ID = 0x4a534442;
const REGS = { id: 0x00, scratch: 0x04, doorbell: 0x08, status: 0x0c, rings: 0x10 };
const STATE_LEN = 13; // scratch, status, rings (u32 LE each), irq level (u8)

let scratchReset = 0;
let scratch = 0;
let status = 0;
let rings = 0;
let irqLevel = false;

function updateIrq() {
  const level = status !== 0;
  if (level !== irqLevel) {
    irqLevel = level;
    setIrq(0, level);
  }
}

function u32(v) {
  return Number(BigInt.asUintN(32, v));
}

function propInteger(p) {
  if (p.value.tag !== 'integer') {
    throw `property '${p.name}' must be an integer`;
  }
  const v = p.value.val;
  if (v < 0n || v > 0xffffffffn) {
    throw `property '${p.name}' = ${v} does not fit in 32 bits`;
  }
  return Number(v);
}

export const device = {
  create(props) {
    for (const p of props) {
      if (p.name === 'scratch') {
        scratchReset = propInteger(p);
      } else {
        throw `unknown property '${p.name}' (known: scratch)`;
      }
    }
    scratch = scratchReset;
    return {
      name: 'doorbell-js',
      version: '0.1.0',
      regions: [{ name: 'regs', size: 0x1000n }],
      irqOutputs: 1,
      irqInputs: 0,
      dtNode: {
        name: 'doorbell',
        compatible: ['wemu,doorbell-js'],
        properties: [],
      },
    };
  },

  reset() {
    scratch = scratchReset;
    status = 0;
    rings = 0;
    updateIrq();
  },

  read(region, offset, size) {
    if (size !== 4) throw 'invalid-size';
    switch (Number(offset)) {
      case REGS.id: return BigInt(ID);
      case REGS.scratch: return BigInt(scratch);
      case REGS.doorbell: return 0n;
      case REGS.status: return BigInt(status);
      case REGS.rings: return BigInt(rings);
      default: throw 'invalid-offset';
    }
  },

  write(region, offset, size, value) {
    if (size !== 4) throw 'invalid-size';
    const v = u32(value);
    switch (Number(offset)) {
      case REGS.scratch:
        scratch = v;
        break;
      case REGS.doorbell:
        if (v !== 0) {
          status = (status | v) >>> 0;
          rings = (rings + 1) >>> 0;
          log('debug', `ring ${rings}: bits ${v.toString(16)}`);
        }
        break;
      case REGS.status:
        status = (status & ~v) >>> 0;
        break;
      case REGS.id:
      case REGS.rings:
        break; // read-only: writes are ignored
      default:
        throw 'invalid-offset';
    }
    updateIrq();
  },

  irqInput(line, level) {},

  timerFired(id) {},

  charInput(port, data) {
    return 0;
  },

  save() {
    const out = new Uint8Array(STATE_LEN);
    const view = new DataView(out.buffer);
    view.setUint32(0, scratch, true);
    view.setUint32(4, status, true);
    view.setUint32(8, rings, true);
    out[12] = irqLevel ? 1 : 0;
    return out;
  },

  restore(state) {
    if (state.length !== STATE_LEN || state[12] !== (state.subarray(4, 8).some((b) => b !== 0) ? 1 : 0)) {
      throw `not a doorbell-js state (${state.length} bytes)`;
    }
    const view = new DataView(state.buffer, state.byteOffset, state.length);
    scratch = view.getUint32(0, true);
    status = view.getUint32(4, true);
    rings = view.getUint32(8, true);
    // The host restores the line levels itself; only the tracked level
    // is ours (it must agree with STATUS, checked above).
    irqLevel = state[12] === 1;
  },
};
