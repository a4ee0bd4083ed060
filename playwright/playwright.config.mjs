// Playwright config: Debian's Chromium (never a downloaded browser), flags from DEVELOPERS.md.
import { defineConfig } from '@playwright/test';

const chromium = process.env.NATSWS_CHROMIUM || '/usr/bin/chromium';

export default defineConfig({
  testDir: './tests',
  outputDir: './test-results',
  globalSetup: './global-setup.mjs',
  timeout: 60_000,
  globalTimeout: 10 * 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: process.env.NATSWS_PW_WORKERS ? Number(process.env.NATSWS_PW_WORKERS) : 2,
  retries: 0,
  reporter: [['list']],
  forbidOnly: !!process.env.CI,
  use: {
    browserName: 'chromium',
    headless: true,
    launchOptions: {
      executablePath: chromium,
      // Playwright gives every launch a fresh temporary user-data-dir.
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
    },
    trace: 'off',
    video: 'off',
    screenshot: 'off',
  },
});
