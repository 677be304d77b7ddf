// When to step video down on a weak link, and when to try it back up (docs/rural-links.md).
// Pure logic: no DOM, no timers. It is fed one verdict per stats round (every 2 s).
//
// Down is quick (three weak rounds); up is slow and careful: only the steps the page took on
// its own are undone, one at a time, after a long run of good rounds; a step up that the link
// cannot carry (down again soon after) doubles the wait before the next try, as a congestion
// controller backs off. A mode the person chose is theirs: nothing automatic undoes it.

export const WEAK_ROUNDS = 3; // rounds too weak for video before stepping down (6 s)
export const STRONG_ROUNDS = 15; // good rounds before trying one step back up (30 s)
export const MAX_STRONG_ROUNDS = 150; // the longest wait after repeated relapses (5 min)
export const RELAPSE_ROUNDS = 30; // a step down this soon after a step up is a relapse (60 s)

export class Ladder {
  constructor({
    weakRounds = WEAK_ROUNDS,
    strongRounds = STRONG_ROUNDS,
    maxStrongRounds = MAX_STRONG_ROUNDS,
    relapseRounds = RELAPSE_ROUNDS,
  } = {}) {
    this.weakRounds = weakRounds;
    this.maxStrongRounds = maxStrongRounds;
    this.relapseRounds = relapseRounds;
    this.wait = strongRounds; // good rounds needed before the next step up
    this.steps = 0; // automatic steps down still in force
    this.weak = 0;
    this.strong = 0;
    this.sinceUp = Infinity;
  }

  /**
   * One stats round. `weak`: no connection can carry video; `good`: every connection is good.
   * Returns "down", "up" or null.
   */
  observe({ weak, good }) {
    this.sinceUp += 1;
    this.weak = weak ? this.weak + 1 : 0;
    this.strong = good && !weak && this.steps > 0 ? this.strong + 1 : 0;
    if (this.weak >= this.weakRounds) {
      this.weak = 0;
      this.strong = 0;
      if (this.sinceUp <= this.relapseRounds) {
        this.wait = Math.min(this.wait * 2, this.maxStrongRounds);
      }
      return "down";
    }
    if (this.strong >= this.wait) {
      this.strong = 0;
      this.sinceUp = 0;
      return "up";
    }
    return null;
  }

  /** The page took a step down on its own: one more to undo when the link allows. */
  steppedDown() {
    this.steps += 1;
  }

  /** The page took one automatic step back up. */
  steppedUp() {
    this.steps = Math.max(0, this.steps - 1);
  }

  /** The person chose the mode themselves: nothing automatic is left to undo. */
  chosen() {
    this.steps = 0;
    this.reset();
  }

  /** Forget the rounds counted so far (after any change of mode: new figures decide). */
  reset() {
    this.weak = 0;
    this.strong = 0;
  }
}
