'use strict';
/*
 * One liferaft node (npm liferaft 1.0.0, unmodified) in its own process, traced.
 *
 * Run by ../record.py; not a test. liferaft leaves the transport to the user (a subclass gives
 * each peer a `write(packet, callback)`), so this file subclasses its Raft class with an HTTP
 * transport on 127.0.0.1 and writes trace events from the outside: around the transport (Send,
 * Receive), around liferaft's `change` (role and term), and around its log store (entries,
 * commit index). No liferaft file is changed.
 *
 * Trace mapping (liferaft's packet types on the left):
 *   vote -> RequestVote; voted -> RequestVoteResponse (vote_granted = data.granted)
 *   append -> AppendEntries: prev_log_index/prev_log_term = packet.last.index/term, entries =
 *     packet.data (absent on a heartbeat), leader_commit = packet.last.committedIndex
 *   append ack -> AppendEntriesResponse success, match_index = data.index
 *   append fail -> AppendEntriesResponse refusal
 *   error (the reply to a request of a stale term) -> the response type of that request, a
 *     refusal. Other packets (an error answering a response) are not Raft messages: not traced.
 * Index base: liferaft numbers entries from 1; its "entry 0" (an empty log, or no entry before
 * the first) reports the node's current term as its term: a sentinel, traced as term 0.
 *
 * Usage: node node.js NAME PORT BOOT TRACE PEERS_JSON   (PEERS_JSON: {"n1": 7101, ...})
 */
const fs = require('fs');
const http = require('http');
const Raft = require('liferaft');
const Log = require('liferaft/log');

const [name, port, boot, tracePath, peersJson] = process.argv.slice(2);
const peers = JSON.parse(peersJson);
const out = fs.openSync(tracePath, 'a');
let counter = 0;
let blocked = new Set();
const ROLE = { [Raft.LEADER]: 'leader', [Raft.CANDIDATE]: 'candidate', [Raft.FOLLOWER]: 'follower' };

function newId() { counter += 1; return `${name}.${boot}.${counter}`; }

// The entries the store holds (index -> term), kept as the store's writes complete.
const held = new Map();

function state(raft) {
  let last = 0;
  for (const k of held.keys()) last = Math.max(last, k);
  return {
    term: raft.term,
    vote: raft.votes.for || null,
    role: ROLE[raft.state] || 'follower',
    commit_index: raft.log ? raft.log.committedIndex : 0,
    log_length: last,
    last_log_term: last ? held.get(last) : 0,
  };
}

function write(raft, event, msg, info) {
  const rec = { node: name, event, state: state(raft) };
  if (msg) rec.msg = msg;
  if (info) rec.info = info;
  // Synchronous, so that a send's line is on disk before the message leaves the process.
  fs.writeSync(out, JSON.stringify(rec) + '\n');
}

function sentinel(info) { return info && info.index ? info.term : 0; }

// A packet in the trace format; `request` is the packet it answers (for an error reply).
function toMsg(packet, id, src, dst, request) {
  if (!packet || typeof packet !== 'object') return null;
  const head = { id, src, dst, term: packet.term };
  const last = packet.last || { index: 0, term: 0, committedIndex: 0 };
  switch (packet.type) {
    case 'vote':
      return { type: 'RequestVote', ...head, last_log_index: last.index, last_log_term: sentinel(last) };
    case 'voted':
      return { type: 'RequestVoteResponse', ...head, vote_granted: !!(packet.data && packet.data.granted) };
    case 'append': {
      const entries = (packet.data || []).map((e) => [e.term, e.index, 'normal', '']);
      return { type: 'AppendEntries', ...head, prev_log_index: last.index,
        prev_log_term: sentinel(last), entries, leader_commit: last.committedIndex };
    }
    case 'append ack':
      return { type: 'AppendEntriesResponse', ...head, success: true, match_index: packet.data.index };
    case 'append fail':
      return { type: 'AppendEntriesResponse', ...head, success: false, match_index: 0 };
    case 'error':
      if (request && request.type === 'vote') {
        return { type: 'RequestVoteResponse', ...head, vote_granted: false, error: packet.data };
      }
      if (request && request.type === 'append') {
        return { type: 'AppendEntriesResponse', ...head, success: false, match_index: 0, error: packet.data };
      }
      return null;
    default:
      return null;
  }
}

// Control endpoints for the recorder (not Raft messages).
async function control(raft, req, res, body) {
  const json = (v) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify(v)); };
  if (req.url === '/control/status') {
    const st = state(raft);
    return json({ role: ROLE[raft.state] || 'stopped', term: raft.term, log: st.log_length, commit: st.commit_index });
  }
  if (req.url === '/control/partition') { blocked = new Set(JSON.parse(body)); return json({}); }
  if (req.url === '/control/enqueue') {
    if (raft.state !== Raft.LEADER) return json({ error: 'not leader' });
    await raft.command(JSON.parse(body));
    return json({ error: null });
  }
  res.writeHead(404); res.end();
}

// liferaft's 'data' listener is an async function: emit('data') starts a handler and returns,
// so a node may handle several messages at once, each reading state before its awaits and
// writing after them. The spec's steps are atomic, so this transport delivers one message at a
// time to a node: the next handler starts when the previous one has returned and the log store
// writes it started without awaiting them (removeEntriesAfter, commit) have completed. That is
// one schedule liferaft can run in; what the trace shows is liferaft's handling of each message.
let inbox = Promise.resolve();
function deliver(raft, work) {
  inbox = inbox.then(async () => {
    if (!raft.timers) return;
    await work();
    await settle();
  }).catch(() => {});
}
const tick = () => new Promise((resolve) => setImmediate(resolve));
async function settle() { for (let k = 0; k < 5; k++) await tick(); }

// liferaft's own 'data' listener, called as emit('data') calls it, but awaited.
async function handle(raft, packet, reply) {
  for (const listener of raft.listeners('data')) await listener(packet, reply);
}

class TracedLog extends Log {
  constructor(node, options) {
    super(node, options);
    const db = this.db;
    const put = db.put.bind(db);
    const del = db.del.bind(db);
    db.put = async (key, entry) => {
      const r = await put(key, entry);
      if (held.get(entry.index) !== entry.term) {
        held.set(entry.index, entry.term);
        write(node, node.state === Raft.LEADER ? 'ClientRequest' : 'EntriesAppended');
      }
      return r;
    };
    db.del = async (key) => {
      const r = await del(key);
      if (held.delete(Number(key))) write(node, 'LogTruncated');
      return r;
    };
    // The commit index moves when liferaft assigns it (Log#commit, between its store reads and
    // writes): the event is written at that moment, not when the store write completes.
    let committed = this.committedIndex;
    Object.defineProperty(this, 'committedIndex', {
      get: () => committed,
      set: (value) => {
        const before = committed;
        committed = value;
        if (value !== before) write(node, 'AdvanceCommitIndex');
      },
    });
  }

}

class TracedRaft extends Raft {
  constructor(options) {
    super(options);
    const change = this.change;
    // liferaft changes role, term and leader through `change`; one event after each call.
    this.change = function traced(changed) {
      const before = [this.state, this.term];
      const r = change.call(this, changed);
      if (this.state === before[0] && this.term === before[1]) return r;
      if (this.state === Raft.CANDIDATE) write(this, 'BecomeCandidate');
      else if (this.state === Raft.LEADER) write(this, 'BecomeLeader');
      else if (this.state === Raft.FOLLOWER) write(this, 'BecomeFollower');
      return r;
    };
  }

  initialize() {
    const raft = this;
    raft.on('error', () => {});
    http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', async () => {
        if (req.url !== '/raft') return control(raft, req, res, body);
        const packet = JSON.parse(body);
        const src = req.headers['x-from'];
        if (blocked.has(src) || !raft.timers) { res.writeHead(503); res.end(); return; }
        deliver(raft, async () => {
          const msg = toMsg(packet, req.headers['x-trace-id'], src, name);
          if (msg) write(raft, 'Receive', msg);
          let answered = false;
          const reply = (answer) => {
            if (answered) return;
            answered = true;
            const id = newId();
            const rmsg = answer ? toMsg(answer, id, name, src, packet) : null;
            if (rmsg) write(raft, 'Send', rmsg);
            res.writeHead(200, { 'content-type': 'application/json', 'x-trace-id': id });
            res.end(JSON.stringify(answer || null));
          };
          await handle(raft, packet, reply);
          reply(undefined);
        });
      });
    }).listen(Number(port), '127.0.0.1');

    for (const [peer, peerPort] of Object.entries(peers)) {
      if (peer === name) continue;
      raft.join(peer, async (packet, callback) => {
        const id = newId();
        const msg = toMsg(packet, id, name, peer);
        if (msg) write(raft, 'Send', msg);
        if (blocked.has(peer)) return; // a partition drops it
        try {
          const res = await fetch(`http://127.0.0.1:${peerPort}/raft`, {
            method: 'POST', body: JSON.stringify(packet),
            headers: { 'x-trace-id': id, 'x-from': name },
            signal: AbortSignal.timeout(1000),
          });
          if (res.status !== 200) return;
          const answer = await res.json();
          const rid = res.headers.get('x-trace-id');
          if (blocked.has(peer) || !raft.timers) return;
          // liferaft's own callback (its latency bookkeeping) without the answer, which is
          // delivered in turn like any message, as callback's emit('data') would deliver it.
          callback(undefined, undefined);
          if (!answer) return;
          deliver(raft, async () => {
            const rmsg = toMsg(answer, rid, peer, name, packet);
            if (rmsg) write(raft, 'Receive', rmsg);
            await handle(raft, answer, undefined);
          });
        } catch (err) {
          // unreachable peer: liferaft is not told (it would only log the error)
        }
      });
    }
  }
}

const raft = new TracedRaft({
  address: name, Log: TracedLog, adapter: require('memdown'),
  'election min': '300 ms', 'election max': '600 ms', heartbeat: '100 ms',
});
write(raft, 'Restart', null, { peers: Object.keys(peers).sort(), boot: Number(boot) });

