package io.openruntimes.core;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Soft timeouts. A call runs on the thread of the request that asked for it; past its deadline,
 * this one thread answers in its place and interrupts it. Woken only by a deadline earlier than
 * the one it sleeps until, so a call that ends in time costs a queue insertion and no thread
 * switch (handing every call to a thread of its own cost two per call).
 */
final class Watchdog implements Runnable {
  private static final Watchdog INSTANCE = new Watchdog();

  static {
    Thread thread = new Thread(INSTANCE, "timeout-watchdog");
    thread.setDaemon(true);
    thread.start();
  }

  /** One call under a deadline; whichever of its thread and the watchdog answers first is the one that replies. */
  static final class Call {
    final long deadline;
    private final Thread thread = Thread.currentThread();
    private final Runnable onTimeout;
    private final AtomicBoolean answered = new AtomicBoolean();
    private boolean running = true; // guarded by this

    private Call(long deadline, Runnable onTimeout) {
      this.deadline = deadline;
      this.onTimeout = onTimeout;
    }

    /** On the call's thread, when the function is done: true when this thread answers. */
    boolean finish() {
      synchronized (this) {
        running = false;
      }
      // An interrupt sent for this call must not reach the next one served on this thread.
      Thread.interrupted();
      return answered.compareAndSet(false, true);
    }

    boolean answered() {
      return answered.get();
    }

    private void expire() {
      if (!answered.compareAndSet(false, true)) {
        return;
      }
      try {
        onTimeout.run(); // first: what the function does once interrupted is late output
      } catch (Throwable error) {
        error.printStackTrace(NativeOutput.original());
      }
      synchronized (this) {
        if (running) {
          thread.interrupt();
        }
      }
    }
  }

  private final PriorityQueue<Call> calls = new PriorityQueue<>(Comparator.comparingLong((Call c) -> c.deadline));
  private long wakeAt; // guarded by this, as the rest: when the thread sleeps until, if timed
  private boolean timed;
  private int compactAt = 64;

  private Watchdog() {}

  /** Watches the calling thread's call; `onTimeout` answers it, on the watchdog's thread. */
  static Call watch(int seconds, Runnable onTimeout) {
    Call call = new Call(System.nanoTime() + seconds * 1_000_000_000L, onTimeout);
    INSTANCE.add(call);
    return call;
  }

  private synchronized void add(Call call) {
    calls.add(call);
    if (calls.size() >= compactAt) {
      // Ended calls are dropped lazily; this keeps them from piling up between wake-ups.
      calls.removeIf(Call::answered);
      compactAt = 2 * calls.size() + 64;
    }
    if (!timed || call.deadline - wakeAt < 0) {
      notify();
    }
  }

  @Override
  public void run() {
    List<Call> due = new ArrayList<>();
    while (true) {
      synchronized (this) {
        while (due.isEmpty()) {
          long now = System.nanoTime();
          timed = false;
          Call head;
          while ((head = calls.peek()) != null && (head.answered() || head.deadline - now <= 0)) {
            calls.poll();
            if (!head.answered()) {
              due.add(head);
            } else if (head.deadline - now > 0) {
              // Sleeping until an ended call's deadline rather than until notified spares the
              // next calls (all due later) a wake-up each.
              wakeAt = head.deadline;
              timed = true;
            }
          }
          if (!due.isEmpty()) {
            break;
          }
          if (head != null) {
            wakeAt = head.deadline;
            timed = true;
          }
          try {
            if (timed) {
              long nanos = Math.max(wakeAt - now, 1);
              wait(nanos / 1_000_000, (int) (nanos % 1_000_000));
            } else {
              wait();
            }
          } catch (InterruptedException e) {
            // nothing interrupts this thread; look again
          }
        }
      }
      for (Call call : due) {
        call.expire();
      }
      due.clear();
    }
  }
}
