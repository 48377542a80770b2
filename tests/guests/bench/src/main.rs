//! CPU-bound benchmark for comparing wemu's interpreter with QEMU.
//!
//! Four integer kernels, each run for a fixed number of rounds over data
//! from a fixed xorshift seed, so the output and the instruction count are
//! the same on every emulator. Each kernel prints one checksum line; the
//! program then exits 0 through the finisher. Sizes are chosen so the whole
//! run is about 2.45 billion instructions (see docs/performance.md).
//!
//! All buffers live on the stack: the image is a few KiB, so the stack
//! (from the end of .bss up to the 1 MiB mark) has ~1 MiB, and the largest
//! kernel needs about 130 KiB. That avoids `static mut` and unsafe code.

#![no_std]
#![no_main]

use rt::{finisher, println, uart};

/// Deterministic pseudo-random numbers (xorshift64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// Bitwise (table-free) CRC-32, IEEE polynomial, reflected: a long chain
/// of dependent shifts, xors and branches.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xedb8_8320 & mask);
        }
    }
    !crc
}

fn bench_crc(rng: &mut Rng) -> u32 {
    let mut buf = [0u8; 16 * 1024];
    let mut acc = 0u32;
    for round in 0..400u32 {
        for b in buf.iter_mut() {
            *b = rng.next() as u8;
        }
        acc = acc.rotate_left(5) ^ crc32(&buf) ^ round;
    }
    acc
}

fn insertion_sort(v: &mut [u32]) {
    for i in 1..v.len() {
        let x = v[i];
        let mut j = i;
        while j > 0 && v[j - 1] > x {
            v[j] = v[j - 1];
            j -= 1;
        }
        v[j] = x;
    }
}

/// Quicksort (Lomuto partition, median-of-three pivot) that hands small
/// slices to insertion sort; recursion depth is bounded by recursing into
/// the smaller half only.
fn quicksort(mut v: &mut [u32]) {
    while v.len() > 16 {
        let n = v.len();
        let mid = n / 2;
        if v[mid] < v[0] {
            v.swap(mid, 0);
        }
        if v[n - 1] < v[0] {
            v.swap(n - 1, 0);
        }
        if v[n - 1] < v[mid] {
            v.swap(n - 1, mid);
        }
        v.swap(mid, n - 1);
        let pivot = v[n - 1];
        let mut store = 0;
        for i in 0..n - 1 {
            if v[i] < pivot {
                v.swap(i, store);
                store += 1;
            }
        }
        v.swap(store, n - 1);
        let (lo, hi) = v.split_at_mut(store);
        let hi = &mut hi[1..];
        if lo.len() < hi.len() {
            quicksort(lo);
            v = hi;
        } else {
            quicksort(hi);
            v = lo;
        }
    }
    insertion_sort(v);
}

fn bench_sort(rng: &mut Rng) -> u64 {
    let mut big = [0u32; 32 * 1024];
    let mut small = [0u32; 1024];
    let mut acc = 0u64;
    for round in 0..100u64 {
        for x in big.iter_mut() {
            *x = rng.next() as u32;
        }
        quicksort(&mut big);
        for x in small.iter_mut() {
            *x = rng.next() as u32;
        }
        insertion_sort(&mut small);
        let sorted = big.windows(2).all(|w| w[0] <= w[1]) && small.windows(2).all(|w| w[0] <= w[1]);
        if !sorted {
            println!("sort: not sorted in round {round}");
            finisher::exit(1);
        }
        // Sample a few positions so the checksum depends on the order.
        for i in (0..big.len()).step_by(997) {
            acc = acc.wrapping_mul(31).wrapping_add(u64::from(big[i]));
        }
        acc = acc.wrapping_mul(31).wrapping_add(u64::from(small[round as usize * 37 % small.len()]));
    }
    acc
}

const N: usize = 48;

fn matmul(a: &[[u32; N]; N], b: &[[u32; N]; N], c: &mut [[u32; N]; N]) {
    for i in 0..N {
        for j in 0..N {
            let mut s = 0u32;
            for k in 0..N {
                s = s.wrapping_add(a[i][k].wrapping_mul(b[k][j]));
            }
            c[i][j] = s;
        }
    }
}

fn bench_matmul(rng: &mut Rng) -> u32 {
    let mut a = [[0u32; N]; N];
    let mut b = [[0u32; N]; N];
    let mut c = [[0u32; N]; N];
    for row in a.iter_mut().chain(b.iter_mut()) {
        for x in row.iter_mut() {
            *x = rng.next() as u32 & 0xffff;
        }
    }
    let mut acc = 0u32;
    for round in 0..1200u32 {
        matmul(&a, &b, &mut c);
        // Feed the result back so no round can be skipped.
        a[round as usize % N][round as usize % N] ^= c[N - 1][N - 1];
        acc = acc.rotate_left(3) ^ c[round as usize % N][(round as usize * 7) % N];
    }
    acc
}

/// Naive substring search: count the (possibly overlapping) occurrences of
/// `pat` in `text`.
fn count_matches(text: &[u8], pat: &[u8]) -> u32 {
    if pat.is_empty() || pat.len() > text.len() {
        return 0;
    }
    let mut n = 0;
    for start in 0..=text.len() - pat.len() {
        let mut k = 0;
        while k < pat.len() && text[start + k] == pat[k] {
            k += 1;
        }
        if k == pat.len() {
            n += 1;
        }
    }
    n
}

fn bench_search(rng: &mut Rng) -> u32 {
    // A 4-letter alphabet makes partial matches frequent.
    let mut text = [0u8; 32 * 1024];
    for c in text.iter_mut() {
        *c = b"acgt"[(rng.next() & 3) as usize];
    }
    let mut acc = 0u32;
    for round in 0..600u32 {
        let mut pat = [0u8; 12];
        for c in pat.iter_mut() {
            *c = b"acgt"[(rng.next() & 3) as usize];
        }
        let len = 3 + (round as usize % 10);
        acc = acc.wrapping_mul(131).wrapping_add(count_matches(&text, &pat[..len]));
    }
    acc
}

#[unsafe(no_mangle)]
extern "C" fn main(_hartid: usize) -> ! {
    uart::init();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    println!("crc32:  {:#010x}", bench_crc(&mut rng));
    println!("sort:   {:#018x}", bench_sort(&mut rng));
    println!("matmul: {:#010x}", bench_matmul(&mut rng));
    println!("search: {:#010x}", bench_search(&mut rng));
    println!("bench done");
    finisher::exit(0)
}
