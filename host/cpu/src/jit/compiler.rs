//! Cranelift itself: the host ISA, a code cache (`JITModule`) and the
//! compilation of one region into it. A [`Compiler`] runs either on the
//! hart's thread or on a worker thread (`worker.rs`); it never touches the
//! hart, only the [`Job`] it is given.

use std::time::Instant;

use cranelift_codegen::Context;
use cranelift_codegen::ir::UserFuncName;
use cranelift_codegen::isa::{CallConv, OwnedTargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{Module, default_libcall_names};

use super::region::Region;
use super::{JitError, RegionFn, TrampolineFn, translate};

pub(super) fn host_isa() -> Result<OwnedTargetIsa, JitError> {
    let mut flags = settings::builder();
    let set = |flags: &mut settings::Builder, k: &str, v: &str| {
        flags.set(k, v).map_err(|e| JitError::Setup(format!("{k}={v}: {e}")))
    };
    // Measured on the CPU benchmark (docs/jit.md): "speed" doubles the
    // code and the compile time for slower code; the register allocator
    // ("backtracking") is what keeps guest registers in host registers
    // ("single_pass" compiles 2.6 times faster, code half as fast).
    // Measured again with the IR of this version: "speed" still compiles
    // twice as slowly to code 10 % slower.
    set(&mut flags, "opt_level", "none")?;
    // Cranelift's tail calls (regions entering the next one) need them.
    set(&mut flags, "preserve_frame_pointers", "true")?;
    set(&mut flags, "is_pic", "false")?;
    // The verifier costs compile time; the differential tests check the
    // code it produces instead.
    set(&mut flags, "enable_verifier", if cfg!(debug_assertions) { "true" } else { "false" })?;
    let builder = cranelift_native::builder().map_err(|e| JitError::Host(e.to_owned()))?;
    builder.finish(settings::Flags::new(flags)).map_err(|e| JitError::Host(e.to_string()))
}

fn new_module(isa: &OwnedTargetIsa) -> JITModule {
    JITModule::new(JITBuilder::with_isa(isa.clone(), default_libcall_names()))
}

/// One region to compile, with everything its code embeds.
pub(super) struct Job {
    /// The region's key in `Jit::regions`.
    pub(super) key: (u64, bool),
    /// The code cache generation it is for (`Jit::epoch`): a result for an
    /// older one is dropped.
    pub(super) epoch: u64,
    pub(super) region: Region,
    pub(super) data: translate::DataPath,
    /// Guest registers in the hart rather than in Cranelift variables:
    /// cheaper to compile (no long live ranges for the register
    /// allocator), slower to run in loops (`JitConfig::regs_in_memory`).
    pub(super) mem_regs: bool,
    /// The address of the region's link slots and their page offsets.
    pub(super) links: (u64, Vec<u16>),
    /// The indirect-jump cache's address, with direct data accesses.
    pub(super) ind: Option<u64>,
    /// The load and store stubs (`Glue`).
    pub(super) stubs: (u64, u64),
    /// The function's number (for its name).
    pub(super) number: u32,
    /// Keep Cranelift's listing of the host code.
    pub(super) listing: bool,
}

// SAFETY: the raw addresses a job carries (the RAM window's host address
// in `data`, the link slots, the indirect-jump cache) are only embedded in
// the generated code as constants; the compiler never dereferences them.
// The code runs on the hart's thread, which owns what they point to.
unsafe impl Send for Job {}

/// What compiling a [`Job`] gave.
pub(super) struct Output {
    /// The region's function (an address: `RegionFn` is not `Send`).
    pub(super) func: usize,
    pub(super) bytes: usize,
    pub(super) ir_insts: usize,
    pub(super) nanos: u64,
    pub(super) listing: Option<String>,
}

/// A job's outcome, sent back to the hart's thread.
pub(super) struct Done {
    pub(super) key: (u64, bool),
    pub(super) epoch: u64,
    pub(super) result: Result<Output, String>,
}

/// Cranelift's state and the current code cache.
pub(super) struct Compiler {
    isa: OwnedTargetIsa,
    module: Option<JITModule>,
    ctx: Context,
    fctx: FunctionBuilderContext,
}

impl Compiler {
    pub(super) fn new(isa: OwnedTargetIsa) -> Compiler {
        let module = new_module(&isa);
        Compiler {
            ctx: module.make_context(),
            module: Some(module),
            isa,
            fctx: FunctionBuilderContext::new(),
        }
    }

    /// Compile `job`. A panic inside Cranelift must not take the machine
    /// down: the region is refused and the contexts, which may be
    /// half-used, made afresh (the code cache too: `Done` says so with an
    /// error, and the hart's side flushes).
    pub(super) fn compile(&mut self, job: &Job) -> Done {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.compile_inner(job)));
        let result = result.unwrap_or_else(|_| {
            self.ctx = Context::new();
            self.fctx = FunctionBuilderContext::new();
            Err(PANICKED.to_owned())
        });
        Done { key: job.key, epoch: job.epoch, result }
    }

    fn compile_inner(&mut self, job: &Job) -> Result<Output, String> {
        let started = Instant::now();
        let module = self.module.as_mut().ok_or("no code cache")?;
        let call_conv = CallConv::triple_default(self.isa.triple());
        self.ctx.clear();
        self.ctx.func.signature = translate::region_signature(translate::REGION_CONV);
        self.ctx.func.name = UserFuncName::user(0, job.number);
        self.ctx.set_disasm(job.listing);
        {
            let mut b = FunctionBuilder::new(&mut self.ctx.func, &mut self.fctx);
            translate::Translator::translate(
                &mut b,
                &job.region,
                call_conv,
                (job.data, job.mem_regs),
                job.links.clone(),
                job.ind,
                job.stubs,
            );
            b.finalize(module.target_config());
        }
        let ir_insts = self.ctx.func.dfg.num_insts();
        let id = module.declare_anonymous_function(&self.ctx.func.signature).map_err(|e| e.to_string())?;
        module.define_function(id, &mut self.ctx).map_err(|e| format!("{e:?}"))?;
        let bytes = self.ctx.compiled_code().map_or(0, |c| c.code_buffer().len());
        let listing = self.ctx.compiled_code().and_then(|c| c.vcode.clone());
        module.finalize_definitions().map_err(|e| e.to_string())?;
        let func: RegionFn = module.get_finalized_function(id);
        self.ctx.clear();
        Ok(Output {
            func: func as usize,
            bytes,
            ir_insts,
            nanos: started.elapsed().as_nanos() as u64,
            listing,
        })
    }

    /// Free the code cache and start a new one.
    ///
    /// # Safety
    /// No code compiled into it may run again: the caller has dropped
    /// every pointer to it (and drops every `Done` of an older epoch).
    pub(super) unsafe fn flush(&mut self) {
        if let Some(m) = self.module.take() {
            // SAFETY: the caller's contract.
            unsafe { m.free_memory() };
        }
        let module = new_module(&self.isa);
        self.ctx = module.make_context();
        self.module = Some(module);
    }
}

/// What `Done` carries when Cranelift panicked.
pub(super) const PANICKED: &str = "the code generator panicked";

/// Code every region shares, in a code cache of its own that lives as
/// long as the `Jit`: the trampoline that enters regions from Rust, and
/// the stubs through which regions call the load and store helpers. The
/// stubs use Cranelift's preserve-all convention: they save every register
/// the Rust helper may clobber, so a region's values stay in registers
/// across its (cold) helper calls instead of being spilled around them.
pub(super) struct Glue {
    /// Holds the code.
    _module: JITModule,
    pub(super) trampoline: TrampolineFn,
    /// `fn(hart, call, pc, addr, size, raw)`: `Call::load`, its value in
    /// `Call::value`.
    pub(super) load: u64,
    /// `fn(hart, call, pc, addr, size, raw, value)`: `Call::store`.
    pub(super) store: u64,
}

impl Glue {
    pub(super) fn new(isa: &OwnedTargetIsa) -> Result<Glue, String> {
        let mut module = new_module(isa);
        let mut ctx = module.make_context();
        let mut fctx = FunctionBuilderContext::new();
        let host = CallConv::triple_default(isa.triple());
        let mut define = |sig: cranelift_codegen::ir::Signature,
                          body: &dyn Fn(&mut FunctionBuilder)|
         -> Result<cranelift_module::FuncId, String> {
            ctx.clear();
            ctx.func.signature = sig;
            {
                let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
                body(&mut b);
                b.finalize(module.target_config());
            }
            let id = module.declare_anonymous_function(&ctx.func.signature).map_err(|e| e.to_string())?;
            module.define_function(id, &mut ctx).map_err(|e| format!("{e:?}"))?;
            Ok(id)
        };
        let t = define(translate::trampoline_signature(host), &translate::trampoline)?;
        let l = define(translate::stub_signature(false), &|b| translate::stub(b, host, false))?;
        let s = define(translate::stub_signature(true), &|b| translate::stub(b, host, true))?;
        module.finalize_definitions().map_err(|e| e.to_string())?;
        let ptr = module.get_finalized_function(t);
        // SAFETY: compiled just now with `trampoline_signature`:
        // `extern "C" fn(*mut Hart, *mut Call, *const u8) -> u32` in the
        // host's C calling convention; `_module` keeps it alive.
        let trampoline = unsafe { std::mem::transmute::<*const u8, TrampolineFn>(ptr) };
        let load = module.get_finalized_function(l) as u64;
        let store = module.get_finalized_function(s) as u64;
        Ok(Glue { _module: module, trampoline, load, store })
    }
}

impl Drop for Compiler {
    fn drop(&mut self) {
        if let Some(m) = self.module.take() {
            // SAFETY: the compiler goes with its `Jit` (or, on a worker,
            // after the `Jit` closed the channel): no region of its code
            // can run any more.
            unsafe { m.free_memory() };
        }
    }
}
