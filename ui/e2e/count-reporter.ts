import type { FullResult, Reporter, TestCase, TestResult } from '@playwright/test/reporter';

// Prints the closing line CI counts: "N passed, N failed" (", N skipped" when any).
export default class CountReporter implements Reporter {
  private passed = 0;
  private failed = 0;
  private skipped = 0;

  onTestEnd(test: TestCase, result: TestResult): void {
    if (result.status === 'skipped') {
      this.skipped++;
      return;
    }
    // Count each test once, by its final outcome (retries re-run it).
    if (result.retry < test.retries && result.status !== 'passed') return;
    if (result.status === 'passed') this.passed++;
    else this.failed++;
  }

  onEnd(_result: FullResult): void {
    const skipped = this.skipped ? `, ${this.skipped} skipped` : '';
    process.stdout.write(`\n${this.passed} passed, ${this.failed} failed${skipped}\n`);
  }

  printsToStdio(): boolean {
    return false;
  }
}
