#include "pool.h"

#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace hemlock {
namespace {

class Pool {
 public:
  Pool() {
    unsigned hw = std::thread::hardware_concurrency();
    resize(hw == 0 ? 1 : static_cast<int>(hw));
  }

  // Lock-free: kernels running inside a parallel region ask for the size
  // (while run() holds run_mu_), so this must not take run_mu_.
  int size() const { return size_.load(); }

  void resize(int n) {
    if (n < 1) n = 1;
    std::lock_guard<std::mutex> run_lock(run_mu_);
    if (static_cast<int>(workers_.size()) + 1 == n) return;
    stop_workers();
    // The generation is read here, under run_mu_, not by the new thread: a
    // thread that started late would otherwise read the generation of the
    // first run() after this and sleep through it (a deadlock).
    unsigned long long g;
    {
      std::lock_guard<std::mutex> lk(mu_);
      g = gen_;
    }
    for (int id = 1; id < n; id++) workers_.emplace_back([this, id, g] { loop(id, g); });
    size_.store(n);
  }

  void run(int ntasks, const std::function<void(int, int)>& fn) {
    if (ntasks <= 0) return;
    std::lock_guard<std::mutex> run_lock(run_mu_);
    if (workers_.empty() || ntasks == 1) {
      for (int t = 0; t < ntasks; t++) fn(t, 0);
      return;
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      fn_ = &fn;
      ntasks_ = ntasks;
      next_.store(0);
      active_ = static_cast<int>(workers_.size());
      error_ = nullptr;
      gen_++;
    }
    start_.notify_all();
    work(0);
    std::unique_lock<std::mutex> lk(mu_);
    done_.wait(lk, [this] { return active_ == 0; });
    fn_ = nullptr;
    if (error_) {
      std::exception_ptr e = error_;
      error_ = nullptr;
      std::rethrow_exception(e);
    }
  }

 private:
  void work(int id) {
    for (int t; (t = next_.fetch_add(1)) < ntasks_;) {
      try {
        (*fn_)(t, id);
      } catch (...) {
        std::lock_guard<std::mutex> lk(err_mu_);
        if (!error_) error_ = std::current_exception();
      }
    }
  }

  void loop(int id, unsigned long long seen) {
    for (;;) {
      {
        std::unique_lock<std::mutex> lk(mu_);
        start_.wait(lk, [&] { return stop_ || gen_ != seen; });
        if (stop_) return;
        seen = gen_;
      }
      work(id);
      std::lock_guard<std::mutex> lk(mu_);
      if (--active_ == 0) done_.notify_one();
    }
  }

  // Caller holds run_mu_.
  void stop_workers() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    start_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
    size_.store(1);
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = false;
  }

  std::mutex run_mu_;  // one parallel region (or resize) at a time
  std::mutex mu_;
  std::mutex err_mu_;
  std::condition_variable start_, done_;
  std::vector<std::thread> workers_;
  const std::function<void(int, int)>* fn_ = nullptr;
  int ntasks_ = 0;
  std::atomic<int> next_{0};
  std::atomic<int> size_{1};
  int active_ = 0;
  unsigned long long gen_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};

// Deliberately leaked: joining sleeping workers from a static destructor at
// process exit can deadlock or abort; the OS reclaims them at exit.
Pool& pool() {
  static Pool* p = new Pool();
  return *p;
}

}  // namespace

int pool_threads() { return pool().size(); }
void set_pool_threads(int n) { pool().resize(n); }
void parallel_for(int ntasks, const std::function<void(int, int)>& fn) { pool().run(ntasks, fn); }

}  // namespace hemlock
