'use strict';
/*
 * Runs the PWA canary script (components/canary/pwa_canary.js) in Node with stand-ins, without
 * network or browser: `node tests/canary/check.js`.
 *
 * The runtime's modules are replaced before the script loads: `Synthetics` (getPage gives a fake
 * Puppeteer page, executeStep runs the step), `SyntheticsLogger` (records lines) and
 * `@aws-sdk/client-cloudwatch` (records PutMetricData calls, or is missing, or refuses). The fake
 * page runs the script's in-page functions from their source text in a fresh `vm` context per
 * document, as Puppeteer serializes them, against a scripted browser: performance entries, the
 * navigation's load end, and the service worker container. So a function that leans on the
 * module's scope fails here as it would in Chromium.
 *
 * One line per scenario; the exit status is non-zero when any fails.
 */

const assert = require('node:assert/strict');
const Module = require('node:module');
const path = require('node:path');
const vm = require('node:vm');

const SCRIPT = path.resolve(__dirname, '../../components/canary/pwa_canary.js');
const SDK = '@aws-sdk/client-cloudwatch';
const ORIGIN = 'https://app.example.com';
const SW_MISMATCH = 'the active service worker is not the one the CDN serves';
const ENV_OK = Object.freeze({
  RAILYARD_PWA_URL: `${ORIGIN}/`,
  RAILYARD_ENV: 'production',
  RAILYARD_MAX_LCP_MS: '2500',
  RAILYARD_MAX_CLS: '0.1',
  RAILYARD_MAX_LOAD_MS: '4000',
  RAILYARD_METRICS_NAMESPACE: 'Railyard/Delivery',
});

// ---------------------------------------------------------------------------------------------
// Stand-in modules

const state = {};

function resetState(spec) {
  Object.assign(state, {
    spec,
    page: null,
    getPageCalls: 0,
    steps: [],
    failedStep: null,
    logs: [],
    puts: [],
    sdk: spec.sdk || 'ok', // ok | missing | refuses
  });
}

const logger = {};
for (const level of ['debug', 'info', 'log', 'warn', 'error']) {
  logger[level] = (...parts) => state.logs.push({ level, text: parts.join(' ') });
}

const stubs = {
  Synthetics: {
    async getPage() {
      state.getPageCalls += 1;
      state.page = new FakePage(state.spec);
      return state.page;
    },
    async executeStep(name, fn) {
      state.steps.push(name);
      try {
        return await fn();
      } catch (e) {
        state.failedStep = name;
        throw e;
      }
    },
  },
  SyntheticsLogger: logger,
  [SDK]: {
    CloudWatchClient: class {
      async send(command) {
        if (state.sdk === 'refuses') {
          const e = new Error('User is not authorized to perform: cloudwatch:PutMetricData');
          e.name = 'AccessDenied';
          throw e;
        }
        assert.ok(command instanceof stubs[SDK].PutMetricDataCommand);
        state.puts.push(command.input);
        return {};
      }
    },
    PutMetricDataCommand: class {
      constructor(input) {
        this.input = input;
      }
    },
  },
};

const stubId = (name) => path.join(__dirname, '__stubs__', name);

const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (Object.hasOwn(stubs, request)) {
    if (request === SDK && state.sdk === 'missing') {
      const e = new Error(`Cannot find module '${request}'`);
      e.code = 'MODULE_NOT_FOUND';
      throw e;
    }
    const id = stubId(request);
    if (!require.cache[id]) {
      const stub = new Module(id, null);
      stub.filename = id;
      stub.loaded = true;
      stub.exports = stubs[request];
      require.cache[id] = stub;
    }
    return id;
  }
  return resolveFilename.call(this, request, ...rest);
};

// ---------------------------------------------------------------------------------------------
// The fake page and its scripted browser

const clone = (value) => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

function response(status) {
  return status === null ? null : { status: () => status, ok: () => status >= 200 && status < 300 };
}

function performanceObserver(spec, page) {
  return class PerformanceObserver {
    static get supportedEntryTypes() {
      return spec.supportedEntryTypes || ['largest-contentful-paint', 'layout-shift', 'navigation'];
    }
    constructor(callback) {
      this.callback = callback;
    }
    observe(options) {
      page.observed.push({ ...options, document: page.documents });
      const entries =
        { 'largest-contentful-paint': spec.lcp, 'layout-shift': spec.shifts }[options.type] || [];
      if (options.buffered && entries.length) {
        setTimeout(() => this.callback({ getEntries: () => entries.map((e) => ({ ...e })) }), 0);
      }
    }
  };
}

function serviceWorkerContainer(sw, firstDocument, page) {
  const worker = (url) => (url ? { scriptURL: url } : null);
  const registration = {
    active: worker(sw.active),
    installing: null,
    waiting: null,
    async update() {
      page.updates += 1;
      if (sw.updateError) {
        throw new TypeError(sw.updateError);
      }
      registration.installing = worker(sw.installing);
      registration.waiting = worker(sw.waiting);
      return registration;
    },
  };
  return {
    ready: sw.ready ? Promise.resolve(registration) : new Promise(() => {}),
    controller: firstDocument ? null : worker(sw.controller), // a fresh profile: not controlled
  };
}

class FakePage {
  constructor(spec) {
    this.spec = spec;
    this.onNewDocument = [];
    this.context = null;
    this.documents = 0;
    this.observed = [];
    this.updates = 0;
    this.calls = [];
  }

  newDocument() {
    this.documents += 1;
    const { spec } = this;
    const sandbox = { setTimeout, clearTimeout };
    sandbox.window = sandbox;
    sandbox.PerformanceObserver = performanceObserver(spec, this);
    sandbox.performance = {
      getEntriesByType: (type) =>
        type === 'navigation' && spec.loadEventEnd !== null
          ? [{ entryType: 'navigation', loadEventEnd: spec.loadEventEnd }]
          : [],
    };
    sandbox.navigator = spec.sw.supported
      ? { serviceWorker: serviceWorkerContainer(spec.sw, this.documents === 1, this) }
      : {};
    this.context = vm.createContext(sandbox);
    for (const script of this.onNewDocument) {
      this.run(script.source, script.args);
    }
  }

  run(source, args) {
    const fn = vm.runInContext(`(${source})`, this.context);
    return fn(...clone(args));
  }

  async evaluateOnNewDocument(fn, ...args) {
    this.calls.push(['evaluateOnNewDocument', fn.name]);
    this.onNewDocument.push({ source: fn.toString(), args });
  }

  async goto(url, options) {
    this.calls.push(['goto', url, options]);
    this.newDocument();
    return response(this.spec.status);
  }

  async reload(options) {
    this.calls.push(['reload', options]);
    this.newDocument();
    return response(this.spec.reloadStatus);
  }

  async evaluate(fn, ...args) {
    this.calls.push(['evaluate', fn.name]);
    assert.ok(this.context, 'evaluate before any navigation');
    return clone(await this.run(fn.toString(), args));
  }
}

// ---------------------------------------------------------------------------------------------
// Scenarios

function healthy(changes = {}) {
  const spec = {
    env: { ...ENV_OK },
    status: 200,
    reloadStatus: 200,
    lcp: [
      { startTime: 640.2, renderTime: 640.2, loadTime: 0, size: 1200 },
      { startTime: 1840.3, renderTime: 1840.3, loadTime: 1700, size: 90000 },
    ],
    shifts: [
      { value: 0.02, hadRecentInput: false },
      { value: 0.5, hadRecentInput: true }, // after input: not counted
      { value: 0.01, hadRecentInput: false },
    ],
    loadEventEnd: 1500.6,
    sw: {
      supported: true,
      ready: true,
      active: `${ORIGIN}/sw.js`,
      installing: null,
      waiting: null,
      updateError: null,
      controller: `${ORIGIN}/sw.js`,
    },
  };
  const { sw, ...rest } = changes;
  return { ...spec, ...rest, sw: { ...spec.sw, ...sw } };
}

async function run(spec) {
  resetState(spec);
  delete require.cache[stubId(SDK)]; // resolved afresh: a scenario may have it missing
  const saved = { ...process.env };
  for (const name of Object.keys(process.env)) {
    if (name.startsWith('RAILYARD_')) delete process.env[name];
  }
  Object.assign(process.env, spec.env);
  let error = null;
  try {
    await canary.handler();
  } catch (e) {
    error = e;
  } finally {
    for (const name of Object.keys(process.env)) {
      if (!(name in saved)) delete process.env[name];
    }
    Object.assign(process.env, saved);
  }
  return { error, ...state };
}

function fails(result, pattern) {
  assert.ok(result.error, 'the run passed');
  assert.ok(result.error instanceof Error, 'not thrown as an Error');
  if (typeof pattern === 'string') {
    assert.equal(result.error.message, pattern);
  } else {
    assert.match(result.error.message, pattern);
  }
}

function passes(result) {
  assert.equal(result.error, null, result.error && result.error.stack);
  assert.deepEqual(result.steps, ['load', 'service-worker', 'timings']);
}

const names = (result) => result.puts.flatMap((put) => put.MetricData.map((d) => d.MetricName));

const scenarios = [
  [
    'a healthy page passes and puts the three timings',
    async () => {
      const r = await run(healthy());
      passes(r);
      const page = r.page;
      assert.deepEqual(page.calls.slice(0, 2), [
        ['evaluateOnNewDocument', 'installObservers'],
        ['goto', `${ORIGIN}/`, { waitUntil: 'load', timeout: canary.limits.navigationTimeoutMs }],
      ]);
      assert.deepEqual(
        page.observed.filter((o) => o.document === 1).map((o) => [o.type, o.buffered]),
        [
          ['largest-contentful-paint', true],
          ['layout-shift', true],
        ],
      );
      assert.equal(page.updates, 1, 'registration.update() calls');
      assert.equal(page.calls.filter((c) => c[0] === 'reload').length, 1, 'reloads');
      assert.equal(r.puts.length, 1, 'PutMetricData calls');
      const [put] = r.puts;
      assert.equal(put.Namespace, 'Railyard/Delivery');
      assert.deepEqual(
        put.MetricData.map((d) => [d.MetricName, d.Value, d.Unit]),
        [
          ['PwaLcpMs', 1840, 'Milliseconds'],
          ['PwaCls', 0.03, 'None'],
          ['PwaLoadMs', 1501, 'Milliseconds'],
        ],
      );
      for (const datum of put.MetricData) {
        assert.deepEqual(datum.Dimensions, [{ Name: 'Env', Value: 'production' }]);
        assert.ok(datum.Timestamp instanceof Date);
      }
      assert.ok(r.logs.some((l) => l.text === 'first load: LCP 1840 ms, CLS 0.03, load 1501 ms'));
      assert.ok(!r.logs.some((l) => l.level === 'error'), JSON.stringify(r.logs));
    },
  ],
  [
    'LCP over the threshold fails naming LCP (the timings are still put)',
    async () => {
      const r = await run(healthy({ lcp: [{ startTime: 900 }, { startTime: 3120.4 }] }));
      fails(r, 'LCP 3120 ms > 2500 ms');
      assert.equal(r.failedStep, 'timings');
      assert.deepEqual(names(r), ['PwaLcpMs', 'PwaCls', 'PwaLoadMs']);
    },
  ],
  [
    'several breaches are listed together',
    async () => {
      const r = await run(
        healthy({
          lcp: [{ startTime: 3120 }],
          shifts: [
            { value: 0.2, hadRecentInput: false },
            { value: 0.11, hadRecentInput: false },
          ],
          loadEventEnd: 5200.2,
        }),
      );
      fails(r, 'LCP 3120 ms > 2500 ms; CLS 0.31 > 0.1; load 5200 ms > 4000 ms');
      assert.deepEqual(names(r), ['PwaLcpMs', 'PwaCls', 'PwaLoadMs']);
    },
  ],
  [
    'the LCP of an entry without startTime is its renderTime or loadTime',
    async () => {
      const r = await run(healthy({ lcp: [{ startTime: 0, renderTime: 0, loadTime: 2710 }] }));
      fails(r, 'LCP 2710 ms > 2500 ms');
    },
  ],
  [
    'no LCP entry fails as not measured and puts the other two',
    async () => {
      const r = await run(healthy({ lcp: [] }));
      fails(r, 'LCP not measured');
      assert.deepEqual(names(r), ['PwaCls', 'PwaLoadMs']);
    },
  ],
  [
    'a browser without layout-shift entries fails as CLS not measured',
    async () => {
      const r = await run(healthy({ supportedEntryTypes: ['largest-contentful-paint'] }));
      fails(r, 'CLS not measured');
      const warned = (l) => l.level === 'warn' && /layout-shift: not supported/.test(l.text);
      assert.ok(r.logs.some(warned));
    },
  ],
  [
    'a waiting service worker fails',
    async () => {
      const r = await run(healthy({ sw: { waiting: `${ORIGIN}/sw.js` } }));
      fails(r, new RegExp(`^${SW_MISMATCH}: .*waiting ${ORIGIN}/sw\\.js`));
      assert.equal(r.failedStep, 'service-worker');
      assert.equal(r.page.calls.filter((c) => c[0] === 'reload').length, 0, 'reloads');
      assert.deepEqual(r.puts, []);
    },
  ],
  [
    'an installing service worker fails',
    async () => {
      const r = await run(healthy({ sw: { installing: `${ORIGIN}/sw.js` } }));
      fails(r, new RegExp(`^${SW_MISMATCH}: .*installing ${ORIGIN}/sw\\.js`));
    },
  ],
  [
    'a controller with another script URL fails',
    async () => {
      const r = await run(healthy({ sw: { controller: `${ORIGIN}/service-worker.js` } }));
      fails(r, `the page is controlled by ${ORIGIN}/service-worker.js, not /sw.js`);
      assert.equal(r.failedStep, 'service-worker');
    },
  ],
  [
    'a page no worker controls after the reload fails',
    async () => {
      const r = await run(healthy({ sw: { controller: null } }));
      fails(r, /^no service worker controls the page after a reload/);
    },
  ],
  [
    'a service worker that never becomes ready fails',
    async () => {
      const r = await run(healthy({ sw: { ready: false } }));
      fails(r, /^no service worker became active within \d+ ms/);
    },
  ],
  [
    'a failed update check fails',
    async () => {
      const r = await run(healthy({ sw: { updateError: 'Failed to update a ServiceWorker' } }));
      fails(r, /^the service worker update check failed: Failed to update a ServiceWorker/);
    },
  ],
  [
    'a page without navigator.serviceWorker fails',
    async () => {
      const r = await run(healthy({ sw: { supported: false } }));
      fails(r, /no navigator\.serviceWorker/);
    },
  ],
  [
    'a missing environment variable fails naming it',
    async () => {
      for (const name of Object.keys(ENV_OK)) {
        for (const value of [undefined, '  ']) {
          const env = { ...ENV_OK };
          if (value === undefined) delete env[name];
          else env[name] = value;
          const r = await run(healthy({ env }));
          fails(r, `${name} is not set`);
          assert.equal(r.getPageCalls, 0, 'getPage before the settings were read');
        }
      }
    },
  ],
  [
    'an invalid environment variable fails naming it',
    async () => {
      const invalid = [
        ['RAILYARD_PWA_URL', 'app.example.com'],
        ['RAILYARD_PWA_URL', 'http://app.example.com/'],
        ['RAILYARD_MAX_LCP_MS', 'abc'],
        ['RAILYARD_MAX_LCP_MS', '0'],
        ['RAILYARD_MAX_CLS', '-0.1'],
        ['RAILYARD_MAX_LOAD_MS', '4s'],
        ['RAILYARD_METRICS_NAMESPACE', 'AWS/Synthetics'],
      ];
      for (const [name, value] of invalid) {
        const r = await run(healthy({ env: { ...ENV_OK, [name]: value } }));
        fails(r, new RegExp(`^${name} must be `));
      }
    },
  ],
  [
    'a 500 response fails',
    async () => {
      const r = await run(healthy({ status: 500 }));
      fails(r, `${ORIGIN}/ answered HTTP 500`);
      assert.deepEqual(r.steps, ['load']);
      assert.equal(r.page.updates, 0);
      assert.deepEqual(r.puts, []);
    },
  ],
  [
    'no response fails',
    async () => {
      const r = await run(healthy({ status: null }));
      fails(r, `no response loading ${ORIGIN}/`);
    },
  ],
  [
    'a 503 on the reload fails',
    async () => {
      const r = await run(healthy({ reloadStatus: 503 }));
      fails(r, `${ORIGIN}/ answered HTTP 503`);
      assert.equal(r.failedStep, 'service-worker');
    },
  ],
  [
    'a missing CloudWatch SDK only logs',
    async () => {
      const r = await run(healthy({ sdk: 'missing' }));
      passes(r);
      assert.deepEqual(r.puts, []);
      assert.ok(r.logs.some((l) => l.level === 'error' && l.text.includes(SDK)));
    },
  ],
  [
    'a refused PutMetricData only logs',
    async () => {
      const r = await run(healthy({ sdk: 'refuses' }));
      passes(r);
      assert.ok(r.logs.some((l) => l.level === 'error' && l.text.includes('AccessDenied')));
    },
  ],
  [
    'the pure functions decide alone',
    async () => {
      const settings = canary.readSettings({ ...ENV_OK, RAILYARD_MAX_CLS: ' 0.25 ' });
      assert.deepEqual(settings, {
        url: `${ORIGIN}/`,
        env: 'production',
        maxLcpMs: 2500,
        maxCls: 0.25,
        maxLoadMs: 4000,
        namespace: 'Railyard/Delivery',
      });
      assert.deepEqual(canary.breaches({ lcpMs: 2500, cls: 0.25, loadMs: 4000 }, settings), []);
      assert.deepEqual(canary.breaches({ lcpMs: 2501, cls: null, loadMs: 4001 }, settings), [
        'LCP 2501 ms > 2500 ms',
        'CLS not measured',
        'load 4001 ms > 4000 ms',
      ]);
      assert.deepEqual(canary.readTimings({ lcp: 1234.5, cls: 0.123456, load: -1 }), {
        lcpMs: 1235,
        cls: 0.1235,
        loadMs: null,
      });
      assert.doesNotThrow(() =>
        canary.checkServiceWorker({ supported: true, ready: true, active: `${ORIGIN}/sw.js` }),
      );
      assert.throws(
        () => canary.checkServiceWorker({ supported: true, ready: true, waiting: 'x' }),
        new RegExp(SW_MISMATCH),
      );
      assert.doesNotThrow(() => canary.checkController(`${ORIGIN}/sw.js?v=42`));
      assert.throws(() => canary.checkController(`${ORIGIN}/app/sw.js`), /not \/sw\.js/);
      const local = { ...ENV_OK, RAILYARD_PWA_URL: 'http://localhost:8080/' };
      assert.doesNotThrow(() => canary.readSettings(local));
    },
  ],
];

// ---------------------------------------------------------------------------------------------

const canary = require(SCRIPT);
canary.limits.settleMs = 5;
canary.limits.serviceWorkerReadyMs = 50;

(async () => {
  let failed = 0;
  for (const [name, check] of scenarios) {
    try {
      await check();
      console.log(`ok    ${name}`);
    } catch (e) {
      failed += 1;
      console.log(`FAIL  ${name}: ${e && e.message ? e.message.split('\n')[0] : e}`);
      if (process.env.CHECK_VERBOSE) console.log(e);
    }
  }
  console.log(`${scenarios.length - failed} of ${scenarios.length} scenarios passed`);
  process.exitCode = failed ? 1 : 0;
})().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
