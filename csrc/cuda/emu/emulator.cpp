// The emulated CUDA device's scheduler (emulator.h): per block, one fiber (ucontext) per CUDA
// thread, run in turn until each finishes or waits at a barrier; a barrier releases when every
// live thread of its block (or warp) has arrived.  Blocks are spread over up to
// PYCNN_CUDA_EMULATOR_THREADS OS threads (default: 2), each running whole blocks.
// Under ThreadSanitizer (PYCNN_EMU_TSAN) every fiber is a TSan fiber, switched without implied
// synchronization; barriers and the launch's start and end are the only happens-before edges, so
// TSan reports the kernels' accesses that a missing barrier leaves unordered.
#include "cuda/emu/emulator.h"

#include <pthread.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

// PYCNN_EMU_TSAN (CMake's option of the same name): the kernels are built with
// -fsanitize=thread and this file without it (its own bookkeeping, shared by the scheduler and the
// fibers, is synchronized by construction: only one of them runs at a time), but annotated.
#if defined(PYCNN_EMU_TSAN) && PYCNN_EMU_TSAN
#include <sanitizer/tsan_interface.h>
#else
#undef PYCNN_EMU_TSAN
#define PYCNN_EMU_TSAN 0
#endif

namespace pycnn_emu {
namespace {

constexpr unsigned kMaxThreadsPerBlock = 1024;
constexpr std::size_t kStackBytes = 256 * 1024;  // per fiber (sanitizer builds need deep frames)
constexpr std::size_t kMaxSharedBytes = 48 * 1024;

enum class Wait { none, block, warp };

struct Fiber {
  ucontext_t ctx;
  char* stack = nullptr;
  ThreadContext tc;
  bool done = false;
  Wait wait = Wait::none;
#if PYCNN_EMU_TSAN
  void* tsan = nullptr;
#endif
};

// One OS thread's state for running blocks: its fibers (reused across blocks and launches).
struct Worker {
  std::vector<Fiber> fibers;
  std::vector<unsigned char> dyn_shared;
  ucontext_t scheduler;
  Fiber* current = nullptr;
  const std::function<void()>* body = nullptr;
  unsigned n = 0, live = 0;
  std::vector<unsigned> warp_live;      // live (not finished) threads per warp
  std::vector<std::uint64_t> exchange;  // one slot per thread (lane exchange)
  // the addresses TSan's happens-before edges use: the block barrier, each warp's, the launch
  char barrier_token = 0, launch_token = 0;
  std::vector<char> warp_tokens;
#if PYCNN_EMU_TSAN
  void* tsan_self = nullptr;
#endif

  ~Worker() {
    for (Fiber& f : fibers) {
      if (f.stack) munmap(f.stack, kStackBytes);
#if PYCNN_EMU_TSAN
      if (f.tsan) __tsan_destroy_fiber(f.tsan);
#endif
    }
  }

  void ensure(unsigned threads) {
    if (fibers.size() >= threads) return;
    const std::size_t old = fibers.size();
    fibers.resize(threads);
    for (std::size_t i = old; i < threads; ++i) {
      void* s = mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (s == MAP_FAILED) throw std::runtime_error("pycnn emulated CUDA device: cannot map a fiber stack");
      fibers[i].stack = static_cast<char*>(s);
#if PYCNN_EMU_TSAN
      fibers[i].tsan = __tsan_create_fiber(0);
#endif
    }
  }

  void switch_to(Fiber* f) {
    current = f;
#if PYCNN_EMU_TSAN
    __tsan_switch_to_fiber(f->tsan, __tsan_switch_to_fiber_no_sync);
#endif
    swapcontext(&scheduler, &f->ctx);
    current = nullptr;
  }

  void yield() {  // from a fiber back to the scheduler
    Fiber* f = current;
#if PYCNN_EMU_TSAN
    __tsan_switch_to_fiber(tsan_self, __tsan_switch_to_fiber_no_sync);
#endif
    swapcontext(&f->ctx, &scheduler);
  }

  void run_block(const dim3& grid, const dim3& block, const uint3& bidx);
};

thread_local Worker* t_worker = nullptr;

Worker& worker() {
  static thread_local Worker w;
  return w;
}

void fiber_entry() {
  Worker& w = *t_worker;
  Fiber* f = w.current;
#if PYCNN_EMU_TSAN
  __tsan_acquire(&w.launch_token);
#endif
  (*w.body)();
#if PYCNN_EMU_TSAN
  __tsan_release(&w.launch_token);
#endif
  f->done = true;
  --w.live;
  --w.warp_live[(f - w.fibers.data()) / 32];  // a barrier may now be complete without this thread
  w.yield();  // never resumed
}

void Worker::run_block(const dim3& grid, const dim3& block, const uint3& bidx) {
  n = block.x * block.y * block.z;
  live = n;
  const unsigned warps = (n + 31) / 32;
  warp_live.assign(warps, 0);
  warp_tokens.assign(warps, 0);
  for (unsigned t = 0; t < n; ++t) warp_live[t / 32]++;
  exchange.assign(n, 0);
  for (unsigned t = 0; t < n; ++t) {
    Fiber& f = fibers[t];
    f.done = false;
    f.wait = Wait::none;
    f.tc.thread_idx = {t % block.x, (t / block.x) % block.y, t / (block.x * block.y)};
    f.tc.block_idx = bidx;
    f.tc.block_dim = block;
    f.tc.grid_dim = grid;
    getcontext(&f.ctx);
    f.ctx.uc_stack.ss_sp = f.stack;
    f.ctx.uc_stack.ss_size = kStackBytes;
    f.ctx.uc_link = nullptr;
    makecontext(&f.ctx, fiber_entry, 0);
  }
#if PYCNN_EMU_TSAN
  __tsan_release(&launch_token);
#endif
  // Each pass runs every runnable thread until it finishes or waits at a barrier; alternate
  // blocks run them in reverse order, so that a result that depends on an unsynchronized order
  // shows it.  After a pass every live thread waits: release the barriers that all their live
  // threads (finished ones no longer count) have reached, or report the deadlock.
  const bool reverse = ((bidx.x + bidx.y + bidx.z) & 1) != 0;
  while (live > 0) {
    for (unsigned i = 0; i < n; ++i) {
      Fiber& f = fibers[reverse ? n - 1 - i : i];
      if (!f.done && f.wait == Wait::none) switch_to(&f);
    }
    if (live == 0) break;
    unsigned at_block = 0;
    for (unsigned t = 0; t < n; ++t) at_block += !fibers[t].done && fibers[t].wait == Wait::block;
    bool released = false;
    if (at_block == live) {
      for (unsigned t = 0; t < n; ++t) fibers[t].wait = Wait::none;
      released = true;
    } else {
      for (unsigned wi = 0; wi < warps; ++wi) {
        const unsigned lo = wi * 32, hi = std::min(n, lo + 32);
        unsigned at_warp = 0;
        for (unsigned t = lo; t < hi; ++t) at_warp += !fibers[t].done && fibers[t].wait == Wait::warp;
        if (at_warp > 0 && at_warp == warp_live[wi]) {
          for (unsigned t = lo; t < hi; ++t) fibers[t].wait = Wait::none;
          released = true;
        }
      }
    }
    if (!released)
      throw std::runtime_error(
          "pycnn emulated CUDA device: deadlock: the threads of a block wait at different barriers "
          "(a __syncthreads or a shuffle not reached by every live thread of its block or warp)");
  }
#if PYCNN_EMU_TSAN
  __tsan_acquire(&launch_token);
#endif
}

// Helper OS threads for the blocks of a launch, started once (and again in a forked child, where
// they do not exist); one launch at a time.
class WorkerPool {
 public:
  // Runs job() on `n` OS threads (this one included) and returns when all have finished.
  void run(unsigned n, const std::function<void()>& job) {
    std::unique_lock<std::mutex> lock(m_);
    // a new thread has seen every generation so far: it takes the one about to start
    while (threads_.size() + 1 < n) threads_.emplace_back([this, seen = generation_] { loop(seen); });
    job_ = &job;
    wanted_ = n - 1;
    running_ = n - 1;
    ++generation_;
    cv_.notify_all();
    lock.unlock();
    job();
    lock.lock();
    done_cv_.wait(lock, [this] { return running_ == 0; });
    job_ = nullptr;
  }
  void forget_after_fork() {
    for (auto& t : threads_) t.detach();  // they do not exist in the child
    threads_.clear();
    new (&m_) std::mutex();
    new (&cv_) std::condition_variable();
    new (&done_cv_) std::condition_variable();
  }

 private:
  void loop(unsigned seen) {
    std::unique_lock<std::mutex> lock(m_);
    for (;;) {
      cv_.wait(lock, [&] { return generation_ != seen; });
      seen = generation_;
      if (wanted_ == 0) continue;
      --wanted_;
      const std::function<void()>* job = job_;
      lock.unlock();
      (*job)();
      lock.lock();
      if (--running_ == 0) done_cv_.notify_all();
    }
  }
  std::mutex m_;
  std::condition_variable cv_, done_cv_;
  std::vector<std::thread> threads_;
  const std::function<void()>* job_ = nullptr;
  unsigned wanted_ = 0, running_ = 0, generation_ = 0;
};

WorkerPool& pool() {
  static WorkerPool* p = [] {
    auto* q = new WorkerPool();  // never destroyed: its threads wait forever at exit
    pthread_atfork(nullptr, nullptr, [] { pool().forget_after_fork(); });
    return q;
  }();
  return *p;
}

std::mutex& launch_mutex() {
  static std::mutex m;
  return m;
}

unsigned worker_threads() {
  const char* env = std::getenv("PYCNN_CUDA_EMULATOR_THREADS");
  const int n = env ? std::atoi(env) : 2;
  return unsigned(std::clamp(n, 1, 64));
}

}  // namespace

const ThreadContext& context() { return t_worker->current->tc; }

void* dynamic_shared() { return t_worker->dyn_shared.data(); }

int lane_id() {
  Worker& w = *t_worker;
  return int((w.current - w.fibers.data()) % 32);
}

void syncthreads() {
  Worker& w = *t_worker;
#if PYCNN_EMU_TSAN
  __tsan_release(&w.barrier_token);
#endif
  Fiber* f = w.current;
  f->wait = Wait::block;
  w.yield();  // the scheduler resumes it once every live thread of the block has arrived
#if PYCNN_EMU_TSAN
  __tsan_acquire(&w.barrier_token);
#endif
}

void syncwarp() {
  Worker& w = *t_worker;
  char* token = &w.warp_tokens[(w.current - w.fibers.data()) / 32];
#if PYCNN_EMU_TSAN
  __tsan_release(token);
#endif
  w.current->wait = Wait::warp;
  w.yield();
#if PYCNN_EMU_TSAN
  __tsan_acquire(token);
#else
  (void)token;
#endif
}

std::uint64_t warp_exchange(std::uint64_t bits, int src) {
  Worker& w = *t_worker;
  const unsigned me = unsigned(w.current - w.fibers.data());
  const unsigned base = me / 32 * 32;
  w.exchange[me] = bits;
  syncwarp();
  const unsigned from = base + unsigned(src % 32);
  const std::uint64_t got = from < w.n && !w.fibers[from].done ? w.exchange[from] : bits;
  syncwarp();  // nobody overwrites its slot before every lane has read
  return got;
}

void launch(const char* name, dim3 grid, dim3 block, std::size_t smem, const std::function<void()>& body) {
  const unsigned long long threads = 1ull * block.x * block.y * block.z;
  const unsigned long long blocks = 1ull * grid.x * grid.y * grid.z;
  if (threads == 0 || blocks == 0)
    throw std::runtime_error(std::string("pycnn emulated CUDA device: ") + name + ": empty launch");
  if (threads > kMaxThreadsPerBlock)
    throw std::runtime_error(std::string("pycnn emulated CUDA device: ") + name + ": " + std::to_string(threads) +
                             " threads per block (at most 1024)");
  if (smem > kMaxSharedBytes)
    throw std::runtime_error(std::string("pycnn emulated CUDA device: ") + name + ": " + std::to_string(smem) +
                             " bytes of dynamic shared memory (at most 48 KiB)");
  const unsigned nworkers = unsigned(std::min<unsigned long long>(worker_threads(), blocks));
  std::lock_guard<std::mutex> one_launch(launch_mutex());
  std::atomic<unsigned long long> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  const std::function<void()> run = [&] {
    Worker& w = worker();
    t_worker = &w;
    w.body = &body;
    try {
      w.ensure(unsigned(threads));
      w.dyn_shared.resize(std::max<std::size_t>(smem, 16));
#if PYCNN_EMU_TSAN
      w.tsan_self = __tsan_get_current_fiber();
#endif
      for (unsigned long long b = next++; b < blocks; b = next++) {
        const uint3 bidx{unsigned(b % grid.x), unsigned((b / grid.x) % grid.y), unsigned(b / (1ull * grid.x * grid.y))};
        // dynamic shared memory starts as garbage (all bits set: NaN as a double or float), as on a GPU
        std::fill(w.dyn_shared.begin(), w.dyn_shared.end(), static_cast<unsigned char>(0xff));
        w.run_block(grid, block, bidx);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      next = blocks;
    }
    t_worker = nullptr;
  };
  if (nworkers <= 1)
    run();
  else
    pool().run(nworkers, run);
  if (error) std::rethrow_exception(error);
}

}  // namespace pycnn_emu
