'use strict';
/*
 * The PWA canary: a CloudWatch Synthetics script (runtime syn-nodejs-puppeteer-13.0, handler
 * canary.handler) that loads the production PWA every few minutes in Chromium.
 *
 * It is the release's post-deploy gate: after a publish the release waits for a run that started
 * later and fails when that run fails. So a run fails (throws) when what users get is not this
 * release, working and fast enough:
 *
 *   load            the page answers 2xx within the navigation timeout;
 *   service-worker  the active service worker is the one the CDN serves now: after an update
 *                   check nothing is installing or waiting (a newer sw.js on the CDN would be),
 *                   and after one reload that worker, /sw.js, controls the page. An old worker
 *                   left in control keeps serving the previous release from its cache;
 *   timings         Largest Contentful Paint, Cumulative Layout Shift and the load event of the
 *                   first load, measured in the page from its start, are put as CloudWatch
 *                   metrics (the release dashboard draws them) and compared with the thresholds;
 *                   one error lists every threshold breached.
 *
 * Settings come from environment variables the stack sets on the canary (their names are defined
 * once, in railyard_runtime.environment.CanaryEnv); a missing or invalid one fails the run naming
 * it. The metric names match railyard_runtime.report.metrics.PWA_TIMINGS. Failing to put the
 * metrics (no SDK, no permission) is logged but does not fail the run: the gate judges the page,
 * not the dashboard.
 *
 * The decisions are small pure functions exported for tests/canary/check.js; the handler only
 * drives the page. The functions passed to page.evaluate run in the browser, so they use nothing
 * from this module.
 */

const synthetics = require('Synthetics');
const log = require('SyntheticsLogger');

const ENV = Object.freeze({
  URL: 'RAILYARD_PWA_URL',
  ENV: 'RAILYARD_ENV',
  MAX_LCP_MS: 'RAILYARD_MAX_LCP_MS',
  MAX_CLS: 'RAILYARD_MAX_CLS',
  MAX_LOAD_MS: 'RAILYARD_MAX_LOAD_MS',
  METRICS_NAMESPACE: 'RAILYARD_METRICS_NAMESPACE',
});

const METRICS = Object.freeze({
  lcpMs: { name: 'PwaLcpMs', unit: 'Milliseconds' },
  cls: { name: 'PwaCls', unit: 'None' },
  loadMs: { name: 'PwaLoadMs', unit: 'Milliseconds' },
});
const DIMENSION = 'Env';
const SW_PATH = '/sw.js';
const SW_MISMATCH = 'the active service worker is not the one the CDN serves';

// Waits, read when a run starts (tests shorten them).
const limits = {
  navigationTimeoutMs: 30000, // page.goto / page.reload
  serviceWorkerReadyMs: 15000, // navigator.serviceWorker.ready never rejects: bound it
  settleMs: 1000, // after the load event, for late LCP and layout-shift entries
};

// ---------------------------------------------------------------------------------------------
// Pure decisions

const NUMBER = /^\d+(\.\d+)?$/;

/** The run's settings from the environment; throws naming the first missing or invalid one. */
function readSettings(env) {
  const text = (name) => {
    const value = env[name];
    if (value === undefined || String(value).trim() === '') {
      throw new Error(`${name} is not set`);
    }
    return String(value).trim();
  };
  const number = (name, { positive }) => {
    const value = text(name);
    const parsed = NUMBER.test(value) ? Number(value) : NaN;
    if (!Number.isFinite(parsed) || (positive && parsed <= 0)) {
      throw new Error(`${name} must be a ${positive ? 'positive ' : ''}number, not "${value}"`);
    }
    return parsed;
  };

  const rawUrl = text(ENV.URL);
  let url;
  try {
    url = new URL(rawUrl);
  } catch (e) {
    throw new Error(`${ENV.URL} must be an absolute URL, not "${rawUrl}"`);
  }
  const local = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (!(url.protocol === 'https:' || (url.protocol === 'http:' && local))) {
    // Service workers only run in a secure context.
    throw new Error(`${ENV.URL} must be an https URL, not "${rawUrl}"`);
  }

  const envName = text(ENV.ENV);
  if (envName.length > 1024) {
    throw new Error(`${ENV.ENV} must be at most 1024 characters (a CloudWatch dimension value)`);
  }
  const namespace = text(ENV.METRICS_NAMESPACE);
  if (namespace.length > 255 || namespace.startsWith(':') || namespace.startsWith('AWS/')) {
    throw new Error(
      `${ENV.METRICS_NAMESPACE} must be a CloudWatch namespace (1-255 characters, not starting ` +
        `with ":" or "AWS/"), not "${namespace}"`,
    );
  }

  return {
    url: url.href,
    env: envName,
    maxLcpMs: number(ENV.MAX_LCP_MS, { positive: true }),
    maxCls: number(ENV.MAX_CLS, { positive: false }),
    maxLoadMs: number(ENV.MAX_LOAD_MS, { positive: true }),
    namespace,
  };
}

/** Throws unless the navigation answered 2xx. */
function checkResponse(response, url) {
  if (!response) {
    throw new Error(`no response loading ${url}`);
  }
  const status = response.status();
  if (!(status >= 200 && status < 300)) {
    throw new Error(`${url} answered HTTP ${status}`);
  }
}

/**
 * Throws unless the service worker state after an update check (what updateServiceWorker
 * returned in the page) shows an active worker with nothing newer installing or waiting.
 */
function checkServiceWorker(found) {
  if (!found || !found.supported) {
    throw new Error('the page has no navigator.serviceWorker (not a secure context?)');
  }
  if (!found.ready) {
    throw new Error(
      `no service worker became active within ${found.waitedMs} ms ` +
        '(navigator.serviceWorker.ready did not resolve)',
    );
  }
  if (found.updateError) {
    throw new Error(`the service worker update check failed: ${found.updateError}`);
  }
  if (found.installing || found.waiting) {
    const newer = [
      found.installing && `installing ${found.installing}`,
      found.waiting && `waiting ${found.waiting}`,
    ].filter(Boolean);
    throw new Error(`${SW_MISMATCH}: active ${found.active}, ${newer.join(', ')}`);
  }
}

/** Throws unless the page's controller (its script URL, or null) is /sw.js. */
function checkController(scriptURL) {
  if (!scriptURL) {
    throw new Error(`no service worker controls the page after a reload (expected ${SW_PATH})`);
  }
  let path;
  try {
    path = new URL(scriptURL).pathname;
  } catch (e) {
    throw new Error(`the page's service worker has an unreadable script URL "${scriptURL}"`);
  }
  if (path !== SW_PATH) {
    throw new Error(`the page is controlled by ${scriptURL}, not ${SW_PATH}`);
  }
}

/**
 * What collectTimings returned, rounded as it is put and judged (whole milliseconds, CLS to four
 * places); a value the page could not measure is null.
 */
function readTimings(raw) {
  const positive = (v) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : null);
  const lcp = positive(raw && raw.lcp);
  const load = positive(raw && raw.load);
  const cls = raw && typeof raw.cls === 'number' && Number.isFinite(raw.cls) && raw.cls >= 0;
  return {
    lcpMs: lcp === null ? null : Math.round(lcp),
    cls: cls ? Number(raw.cls.toFixed(4)) : null,
    loadMs: load === null ? null : Math.round(load),
  };
}

/** Every threshold the timings breach, and every timing not measured, one phrase each. */
function breaches(timings, settings) {
  const found = [];
  const judge = (label, value, max, unit) => {
    if (value === null || value === undefined) {
      found.push(`${label} not measured`);
    } else if (value > max) {
      found.push(`${label} ${value}${unit} > ${max}${unit}`);
    }
  };
  judge('LCP', timings.lcpMs, settings.maxLcpMs, ' ms');
  judge('CLS', timings.cls, settings.maxCls, '');
  judge('load', timings.loadMs, settings.maxLoadMs, ' ms');
  return found;
}

/** PutMetricData's MetricData for the measured timings, dimension Env. */
function metricData(timings, env, at) {
  return Object.entries(METRICS)
    .filter(([key]) => timings[key] !== null && timings[key] !== undefined)
    .map(([key, metric]) => ({
      MetricName: metric.name,
      Dimensions: [{ Name: DIMENSION, Value: env }],
      Timestamp: at,
      Value: timings[key],
      Unit: metric.unit,
    }));
}

function describeTimings(timings) {
  const show = (v, unit) => (v === null ? 'not measured' : `${v}${unit}`);
  return (
    `LCP ${show(timings.lcpMs, ' ms')}, CLS ${show(timings.cls, '')}, ` +
    `load ${show(timings.loadMs, ' ms')}`
  );
}

// ---------------------------------------------------------------------------------------------
// In the page (serialized by Puppeteer: self-contained, browser globals only)

/** Before any script of the document: records LCP and CLS from the start. */
function installObservers() {
  const vitals = { lcp: null, cls: null, errors: [] };
  window.__railyardVitals = vitals;
  const observe = (type, onEntries) => {
    const supported = PerformanceObserver.supportedEntryTypes;
    if (supported && !supported.includes(type)) {
      vitals.errors.push(`${type}: not supported`);
      return false;
    }
    try {
      new PerformanceObserver((list) => onEntries(list.getEntries())).observe({
        type,
        buffered: true,
      });
      return true;
    } catch (e) {
      vitals.errors.push(`${type}: ${e && e.message}`);
      return false;
    }
  };
  observe('largest-contentful-paint', (entries) => {
    const last = entries[entries.length - 1]; // the latest candidate is the LCP so far
    if (last) {
      vitals.lcp = last.startTime || last.renderTime || last.loadTime;
    }
  });
  const shifts = observe('layout-shift', (entries) => {
    for (const entry of entries) {
      if (!entry.hadRecentInput) {
        vitals.cls += entry.value;
      }
    }
  });
  if (shifts) {
    vitals.cls = 0; // entries arrive later, asynchronously
  }
}

/** After the load event and a short wait: what the observers saw and when the load ended. */
async function collectTimings(settleMs) {
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  const vitals = window.__railyardVitals;
  const navigation = performance.getEntriesByType('navigation')[0];
  return {
    lcp: vitals ? vitals.lcp : null,
    cls: vitals ? vitals.cls : null,
    load: navigation ? navigation.loadEventEnd : null,
    errors: vitals ? vitals.errors : ['the observers were not installed'],
  };
}

/** Waits for an active service worker, asks the server for sw.js, reports what is there. */
async function updateServiceWorker(waitMs) {
  if (!('serviceWorker' in navigator)) {
    return { supported: false };
  }
  const registration = await Promise.race([
    navigator.serviceWorker.ready,
    new Promise((resolve) => setTimeout(() => resolve(null), waitMs)),
  ]);
  if (!registration) {
    return { supported: true, ready: false, waitedMs: waitMs };
  }
  let updateError = null;
  try {
    await registration.update();
  } catch (e) {
    updateError = String((e && e.message) || e);
  }
  const url = (worker) => (worker ? worker.scriptURL : null);
  return {
    supported: true,
    ready: true,
    updateError,
    active: url(registration.active),
    installing: url(registration.installing),
    waiting: url(registration.waiting),
  };
}

/** The script URL of the worker controlling the page, or null. */
function controllerScript() {
  const controller = navigator.serviceWorker && navigator.serviceWorker.controller;
  return controller ? controller.scriptURL : null;
}

// ---------------------------------------------------------------------------------------------
// The run

async function putMetrics(data, namespace) {
  if (data.length === 0) {
    return;
  }
  let sdk;
  try {
    sdk = require('@aws-sdk/client-cloudwatch');
  } catch (e) {
    log.error(`metrics not put: @aws-sdk/client-cloudwatch is not available (${e.message})`);
    return;
  }
  try {
    const client = new sdk.CloudWatchClient({});
    await client.send(new sdk.PutMetricDataCommand({ Namespace: namespace, MetricData: data }));
    log.info(`put ${data.map((d) => d.MetricName).join(', ')} in ${namespace}`);
  } catch (e) {
    log.error(`metrics not put in ${namespace}: ${e.name || 'Error'}: ${e.message}`);
  }
}

async function run() {
  const settings = readSettings(process.env);
  const page = await synthetics.getPage();
  let timings;

  await synthetics.executeStep('load', async () => {
    await page.evaluateOnNewDocument(installObservers);
    const response = await page.goto(settings.url, {
      waitUntil: 'load',
      timeout: limits.navigationTimeoutMs,
    });
    checkResponse(response, settings.url);
    const raw = await page.evaluate(collectTimings, limits.settleMs);
    if (raw && raw.errors && raw.errors.length) {
      log.warn(`performance observers: ${raw.errors.join('; ')}`);
    }
    timings = readTimings(raw);
  });

  await synthetics.executeStep('service-worker', async () => {
    const found = await page.evaluate(updateServiceWorker, limits.serviceWorkerReadyMs);
    log.info(`service worker after the update check: ${JSON.stringify(found)}`);
    checkServiceWorker(found);
    const response = await page.reload({ waitUntil: 'load', timeout: limits.navigationTimeoutMs });
    if (response) {
      checkResponse(response, settings.url);
    }
    const scriptURL = await page.evaluate(controllerScript);
    log.info(`controlled by ${scriptURL}`);
    checkController(scriptURL);
  });

  await synthetics.executeStep('timings', async () => {
    log.info(`first load: ${describeTimings(timings)}`);
    await putMetrics(metricData(timings, settings.env, new Date()), settings.namespace);
    const found = breaches(timings, settings);
    if (found.length) {
      throw new Error(found.join('; '));
    }
  });
}

exports.handler = async () => {
  return await run();
};

module.exports.ENV = ENV;
module.exports.METRICS = METRICS;
module.exports.SW_PATH = SW_PATH;
module.exports.limits = limits;
module.exports.readSettings = readSettings;
module.exports.checkResponse = checkResponse;
module.exports.checkServiceWorker = checkServiceWorker;
module.exports.checkController = checkController;
module.exports.readTimings = readTimings;
module.exports.breaches = breaches;
module.exports.metricData = metricData;
module.exports.browser = {
  installObservers,
  collectTimings,
  updateServiceWorker,
  controllerScript,
};
