'use strict';
// HTTP for the core's registry protocol: one request per call, redirects returned (never followed),
// blob bodies streamed from the store. node:http/https rather than fetch: a registry's own CA
// (`registryCa`) and `registry.insecure` need per-request TLS settings, which Node's global fetch only
// offers through the separate `undici` package; node:https has them built in, with keep-alive agents.
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const tls = require('node:tls');
const { hostError, ioError } = require('./errors');

// As the native host: the system bundle (OpenSSL's SSL_CERT_FILE overrides it), else Node's own roots.
const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
/**
 * How long one exchange may take to send its body and get the answer's head, and then to receive the
 * answer's body, each (a registry that stalls or trickles must not hang the export). As the native
 * host: OUTPORT_HTTP_TIMEOUT seconds, default 300; connecting gets at most 30 s.
 */
function timeoutMs() {
  const seconds = Number.parseInt(process.env.OUTPORT_HTTP_TIMEOUT ?? '', 10);
  return (seconds > 0 ? seconds : 300) * 1000;
}

function systemRoots() {
  try {
    return [fs.readFileSync(process.env.SSL_CERT_FILE || SYSTEM_CA_BUNDLE, 'utf8')];
  } catch {
    return [...tls.rootCertificates];
  }
}

/** Keep-alive agents for one run: verified (system roots plus `registryCa`), and one for insecure registries. */
class Transport {
  constructor({ registryCa } = {}) {
    const ca = systemRoots();
    if (registryCa) {
      let pem;
      try {
        pem = fs.readFileSync(registryCa, 'utf8');
      } catch (err) {
        throw ioError('invalid-option', `registryCa ${registryCa}`, err);
      }
      if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
        throw hostError('invalid-option', `registryCa ${registryCa}: no PEM certificate in the file`);
      }
      ca.push(pem);
    }
    this.plain = new http.Agent({ keepAlive: true });
    this.verified = new https.Agent({ keepAlive: true, ca });
    this.unverified = new https.Agent({ keepAlive: true, rejectUnauthorized: false });
  }

  agentFor(url, insecure) {
    if (url.protocol === 'http:') return this.plain;
    return insecure ? this.unverified : this.verified;
  }

  /** Send one request; resolves to { status, headers: [[name, value]], body } with at most maxBody bytes. */
  async send(request, maxBody, store) {
    const shown = `${request.method} ${request.url.split('?')[0]}`;
    // Transport failures, also while reading the body, are registry errors with a `transport` kind:
    // the core decides on retries and hints by the kind, never by the wording.
    const failed = (err) => transportError(`${shown}: ${err.message}`, err);
    const payload = body(request, store);
    let url;
    try {
      url = new URL(request.url);
    } catch (err) {
      throw failed(err);
    }
    const client = url.protocol === 'http:' ? http : https;
    const limit = timeoutMs();
    return new Promise((resolve, reject) => {
      const outgoing = client.request(url, {
        method: request.method,
        headers: Object.fromEntries(request.headers),
        agent: this.agentFor(url, request.insecure),
        timeout: Math.min(limit, 30_000),
      });
      let deadline;
      const fail = (err) => {
        clearTimeout(deadline);
        outgoing.destroy();
        reject(failed(err));
      };
      const expire = () => fail(timedOut(`timeout: no complete answer within ${limit / 1000} s`));
      deadline = setTimeout(expire, limit);
      outgoing.on('error', fail);
      outgoing.on('timeout', () => fail(timedOut('timed out')));
      outgoing.on('response', (incoming) => {
        clearTimeout(deadline);
        deadline = setTimeout(expire, limit);
        readBounded(incoming, maxBody).then((bytes) => {
          clearTimeout(deadline);
          resolve({ status: incoming.statusCode, headers: headerPairs(incoming), body: bytes });
        }, fail);
      });
      if (payload === undefined) outgoing.end();
      else if (payload instanceof Uint8Array) outgoing.end(payload);
      else {
        payload.on('error', fail);
        payload.pipe(outgoing);
      }
    });
  }

  close() {
    for (const agent of [this.plain, this.verified, this.unverified]) agent.destroy();
  }
}

function timedOut(message) {
  const err = new Error(message);
  err.code = 'ETIMEDOUT';
  return err;
}

// Node's (and undici's) error codes by the transport kind the core knows (wit/outport.wit).
const TRANSPORT = {
  dns: ['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA'],
  connect: ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'EADDRNOTAVAIL'],
  timeout: ['ETIMEDOUT', 'ESOCKETTIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'],
  reset: ['ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'],
  certificate: [
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
    'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID',
    'CERT_UNTRUSTED', 'CERT_REJECTED', 'CERT_SIGNATURE_FAILURE', 'CERT_REVOKED', 'INVALID_CA',
    'ERR_TLS_CERT_ALTNAME_INVALID', 'HOSTNAME_MISMATCH',
  ],
};

/** The transport kind of a Node error, by its code (a fetch TypeError keeps the code on `cause`). */
function transportKind(err) {
  const code = err?.code ?? err?.cause?.code;
  if (typeof code !== 'string') return 'other';
  for (const [kind, codes] of Object.entries(TRANSPORT)) {
    if (codes.includes(code)) return kind;
  }
  // OpenSSL reading an HTTP answer as a TLS record: a plain-HTTP registry.
  // (https.request reports it as EPROTO with OpenSSL's reason only in the message.)
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') return 'plain-http';
  if (code === 'EPROTO' && /wrong version number|packet length too long/.test(String(err.message))) return 'plain-http';
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code === 'EPROTO') return 'tls';
  return 'other';
}

/** A failed exchange as the core wants it: kind 'registry', and the transport kind of `err`. */
function transportError(message, err) {
  const error = hostError('registry', message);
  error.transport = transportKind(err);
  return error;
}

function body(request, store) {
  if (request.body === null || request.body === undefined) return undefined;
  if (request.body instanceof Uint8Array) return request.body;
  // A stored blob: opened now, so a missing blob is a store error (never retried) as in the native
  // host, then streamed, never held whole in memory.
  const { blob, offset, length } = request.body;
  const file = store.blobPath(blob);
  let fd;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    throw ioError('store', file, err);
  }
  if (length === 0) {
    fs.closeSync(fd);
    return new Uint8Array(0);
  }
  return fs.createReadStream(null, { fd, start: offset, end: offset + length - 1 });
}

/** Read at most `max` bytes of a response body; past that the connection is dropped, not drained. */
async function readBounded(incoming, max) {
  const chunks = [];
  let total = 0;
  for await (const chunk of incoming) {
    chunks.push(chunk.subarray(0, max - total));
    total += chunk.length;
    if (total >= max) {
      incoming.destroy();
      break;
    }
  }
  return new Uint8Array(Buffer.concat(chunks));
}

/** Node joins repeated headers with ", " except Set-Cookie; the raw list keeps each one apart. */
function headerPairs(incoming) {
  const pairs = [];
  for (let i = 0; i < incoming.rawHeaders.length; i += 2) {
    pairs.push([incoming.rawHeaders[i].toLowerCase(), incoming.rawHeaders[i + 1]]);
  }
  return pairs;
}

module.exports = { Transport, transportError, transportKind };
