/* The cached loop of the flat form in C: the same steps as the generated Python loop
 * (loop_cached.py, _FastLoop), on the same tables, without the interpreter's cost per successor.
 *
 * It reads the tables FlatRaft keeps (the step cache per (server, place, bag), the server
 * tuples' infos, the bags' relabelled hashes, ...) and calls back into FlatRaft for everything
 * the Python loop calls a method for: a state whose parts are not all cached goes through
 * _prepare and, when a check fails there, through the generated slow loop, exactly as in the
 * Python loop. So it builds no table entry and decides no property itself: it only walks
 * lists the Python code made, and it must append the same keys, successors, actions, parts and
 * bases in the same order (tests/test_native_loop.py compares it with the Python loop).
 *
 * Keys and their parts are signed 64-bit ints in Python (hash(), and _mix's signed results),
 * and the XOR of two such ints in Python is their 64-bit XOR: int64_t arithmetic gives the
 * same values.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#define MAXN 8

typedef struct {
    PyObject_HEAD
    PyObject *owner; /* the FlatRaft */
    int n, hist, faults, zob, delta, parts, part_k, whole;
    int64_t a_dup, a_drop;
    unsigned long long all_notes;
    PyObject *ftl[MAXN], *zs[MAXN];
    PyObject *bag_md, *svinfo, *slow, *prepare, *okc, *bag_faults, *bag_fault_acts,
        *fault_steps, *ok_servers, *pok, *cand, *candidates, *brel, *brel_all, *pair_ok, *lcs,
        *wok, *whole_ok, *enabled, *logs_step, *all_logs_step, *logs_hash, *eks, *eks_all,
        *els_plus, *cl, *broken_recv, *str_reached;
} Loop;

/* --- small helpers ----------------------------------------------------------------------- */

static inline int64_t as_i64(PyObject *o) { return (int64_t)PyLong_AsLongLong(o); }

/* d.get(key) as a new reference, NULL if absent (or on error: check PyErr_Occurred). */
static inline PyObject *dget(PyObject *d, PyObject *key) {
    PyObject *v = PyDict_GetItemWithError(d, key);
    Py_XINCREF(v);
    return v;
}

static inline PyObject *dget_i(PyObject *d, int64_t key) {
    PyObject *k = PyLong_FromLongLong(key);
    if (k == NULL) return NULL;
    PyObject *v = dget(d, k);
    Py_DECREF(k);
    return v;
}

/* d.get(key) or fn(key): a new reference, NULL on error. */
static PyObject *get_or_call(PyObject *d, PyObject *key, PyObject *fn) {
    PyObject *v = dget(d, key);
    if (v != NULL || PyErr_Occurred()) return v;
    return PyObject_CallOneArg(fn, key);
}

static inline int append_i64(PyObject *list, int64_t v) {
    PyObject *o = PyLong_FromLongLong(v);
    if (o == NULL) return -1;
    int r = PyList_Append(list, o);
    Py_DECREF(o);
    return r;
}

/* list[index] += by, for a list of ints. */
static int add_at(PyObject *list, Py_ssize_t index, int64_t by) {
    PyObject *old = PyList_GET_ITEM(list, index);
    int64_t v = as_i64(old);
    if (v == -1 && PyErr_Occurred()) return -1;
    PyObject *o = PyLong_FromLongLong(v + by);
    if (o == NULL) return -1;
    PyList_SET_ITEM(list, index, o);
    Py_DECREF(old);
    return 0;
}

/* The least ck ^ brel[pi] ^ lh ^ eks[pi] over the candidates (pi, ck) of cs (eks may be NULL:
 * no elections part), as in the generated loop's key blocks. */
static int key_min(PyObject *cs, PyObject *brel, int64_t lh, PyObject *eks, int64_t *out) {
    Py_ssize_t len = PyTuple_GET_SIZE(cs);
    int64_t best = 0;
    for (Py_ssize_t k = 0; k < len; k++) {
        PyObject *c = PyTuple_GET_ITEM(cs, k);
        Py_ssize_t pi = PyLong_AsSsize_t(PyTuple_GET_ITEM(c, 0));
        int64_t kx = as_i64(PyTuple_GET_ITEM(c, 1)) ^ as_i64(PyTuple_GET_ITEM(brel, pi)) ^ lh;
        if (eks != NULL) kx ^= as_i64(PyTuple_GET_ITEM(eks, pi));
        if (k == 0 || kx < best) best = kx;
    }
    if (PyErr_Occurred()) return -1;
    *out = best;
    return 0;
}

/* A successor: servers sv[0..n) with sv[i] replaced by x (i < 0: none), then the tail. */
static PyObject *make_succ(PyObject **sv, int n, int i, PyObject *x, PyObject *b2, PyObject *a2,
                           PyObject *e2) {
    PyObject *t = PyTuple_New(n + 1 + (a2 != NULL ? 2 : 0));
    if (t == NULL) return NULL;
    for (int k = 0; k < n; k++) {
        PyObject *v = k == i ? x : sv[k];
        Py_INCREF(v);
        PyTuple_SET_ITEM(t, k, v);
    }
    Py_INCREF(b2);
    PyTuple_SET_ITEM(t, n, b2);
    if (a2 != NULL) {
        Py_INCREF(a2);
        PyTuple_SET_ITEM(t, n + 1, a2);
        Py_INCREF(e2);
        PyTuple_SET_ITEM(t, n + 2, e2);
    }
    return t;
}

/* The servers sv[0..n) with sv[i] replaced by x, as a tuple. */
static PyObject *make_sv(PyObject **sv, int n, int i, PyObject *x) {
    PyObject *t = PyTuple_New(n);
    if (t == NULL) return NULL;
    for (int k = 0; k < n; k++) {
        PyObject *v = k == i ? x : sv[k];
        Py_INCREF(v);
        PyTuple_SET_ITEM(t, k, v);
    }
    return t;
}

static inline int push_succ(PyObject *succs, PyObject *t) {
    if (t == NULL) return -1;
    int r = PyList_Append(succs, t);
    Py_DECREF(t);
    return r;
}

/* The sum of the servers' classes (FlatRaft.partition with symmetry). */
static int sym_part(Loop *L, PyObject **sv, int i, PyObject *x, int64_t *out) {
    int64_t sum = 0;
    for (int k = 0; k < L->n; k++) {
        Py_ssize_t sid = PyLong_AsSsize_t(k == i ? x : sv[k]);
        sum += as_i64(PyList_GET_ITEM(L->cl, sid));
    }
    if (PyErr_Occurred()) return -1;
    *out = sum;
    return 0;
}

static inline int64_t zs_at(Loop *L, int i, PyObject *sid) {
    return as_i64(PyList_GET_ITEM(L->zs[i], PyLong_AsSsize_t(sid)));
}

/* --- the state's context -------------------------------------------------------------------- */

typedef struct {
    PyObject *st, *sv[MAXN], *b, *A, *E;
    PyObject *f[MAXN]; /* strong */
    PyObject *inf;     /* strong */
    PyObject *cs0;     /* borrowed from inf */
    PyObject *a2;      /* strong: (A2, LH) */
    PyObject *A2;      /* borrowed from a2 */
    PyObject *eks0;    /* strong */
    int64_t lh, base, p0;
} Ctx;

static void ctx_clear(Ctx *c, int n) {
    for (int i = 0; i < n; i++) Py_CLEAR(c->f[i]);
    Py_CLEAR(c->inf);
    Py_CLEAR(c->a2);
    Py_CLEAR(c->eks0);
}

/* keys.append of a successor's key: with Zobrist keys, the state's base XOR the step's XOR
 * (or the XOR alone, with delta); zd_obj is appended as it is when it is the whole answer. */
static int push_zkey(Loop *L, PyObject *keys, Ctx *c, PyObject *zd_obj, int64_t zd) {
    if (L->delta && zd_obj != NULL) return PyList_Append(keys, zd_obj);
    return append_i64(keys, L->delta ? zd : (c->base ^ zd));
}

/* The elections after a step that records election rec, and their relabelled hashes. */
static int els_after(Loop *L, Ctx *c, PyObject *rec, PyObject **e2, PyObject **eks) {
    *e2 = PyObject_CallFunctionObjArgs(L->els_plus, c->E, rec, NULL);
    if (*e2 == NULL) return -1;
    *eks = get_or_call(L->eks, *e2, L->eks_all);
    if (*eks == NULL) {
        Py_CLEAR(*e2);
        return -1;
    }
    return 0;
}

static int local_steps(Loop *L, Ctx *c, int i, PyObject *keys, PyObject *succs, PyObject *acts,
                       PyObject *parts) {
    PyObject *items = PyTuple_GET_ITEM(c->f[i], 3);
    Py_ssize_t len = PyTuple_GET_SIZE(items);
    PyObject *si = c->sv[i];
    for (Py_ssize_t k = 0; k < len; k++) {
        PyObject *e = PyTuple_GET_ITEM(items, k);
        PyObject *ac = PyTuple_GET_ITEM(e, 0), *x = PyTuple_GET_ITEM(e, 1);
        PyObject *b2 = PyTuple_GET_ITEM(e, 2), *rec = PyTuple_GET_ITEM(e, 3);
        PyObject *zd = PyTuple_GET_ITEM(e, 4); /* with symmetry: the bag's relabelled hashes */
        int64_t recv = as_i64(rec);
        PyObject *e2 = c->E, *eks = NULL;
        if (L->zob) {
            if (L->hist && recv >= 0) {
                if (els_after(L, c, rec, &e2, &eks) < 0) return -1;
                int64_t d = as_i64(zd) ^ as_i64(PyTuple_GET_ITEM(c->eks0, 0)) ^
                            as_i64(PyTuple_GET_ITEM(eks, 0));
                int r = push_zkey(L, keys, c, NULL, d);
                if (r == 0) r = push_succ(succs, make_succ(c->sv, L->n, i, x, b2, c->A2, e2));
                Py_DECREF(e2);
                Py_DECREF(eks);
                if (r < 0) return -1;
            } else {
                if (push_zkey(L, keys, c, zd, as_i64(zd)) < 0) return -1;
                if (push_succ(succs, make_succ(c->sv, L->n, i, x, b2, c->A2, c->E)) < 0)
                    return -1;
            }
            if (L->parts) {
                int64_t p = c->p0;
                if (i < L->part_k) p ^= zs_at(L, i, si) ^ zs_at(L, i, x);
                if (append_i64(parts, p) < 0) return -1;
            }
        } else {
            int64_t key;
            int same = x == si || PyLong_AsSsize_t(x) == PyLong_AsSsize_t(si);
            if (same && recv < 0) {
                if (key_min(c->cs0, zd, c->lh, L->hist ? c->eks0 : NULL, &key) < 0) return -1;
                if (append_i64(keys, key) < 0) return -1;
                if (push_succ(succs, make_succ(c->sv, L->n, -1, NULL, b2, c->A2, c->E)) < 0)
                    return -1;
            } else {
                PyObject *svt = make_sv(c->sv, L->n, i, x);
                if (svt == NULL) return -1;
                PyObject *cs = get_or_call(L->cand, svt, L->candidates);
                Py_DECREF(svt);
                if (cs == NULL) return -1;
                int r = 0, own_e2 = 0;
                if (L->hist) {
                    if (recv >= 0) {
                        r = els_after(L, c, rec, &e2, &eks);
                        own_e2 = r == 0;
                    } else {
                        eks = get_or_call(L->eks, c->E, L->eks_all);
                        r = eks == NULL ? -1 : 0;
                    }
                }
                if (r == 0) r = key_min(cs, zd, c->lh, eks, &key);
                if (r == 0) r = append_i64(keys, key);
                if (r == 0) r = push_succ(succs, make_succ(c->sv, L->n, i, x, b2, c->A2, e2));
                Py_DECREF(cs);
                Py_XDECREF(eks);
                /* els_plus may hand back the very object E is (its id interned). */
                if (own_e2) Py_DECREF(e2);
                if (r < 0) return -1;
            }
            if (L->parts) {
                int64_t p;
                if (sym_part(L, c->sv, same && recv < 0 ? -1 : i, x, &p) < 0) return -1;
                if (append_i64(parts, p) < 0) return -1;
            }
        }
        if (PyList_Append(acts, ac) < 0) return -1;
    }
    return 0;
}

/* Whether the pair and whole-state checks of a receipt by server i, leading to x, pass; on a
 * failure, _broken_recv raises the violation (returns -1 with the exception set). */
static int receipt_checks(Loop *L, Ctx *c, int i, PyObject *x, PyObject *m, PyObject *others) {
    int64_t xv = as_i64(x);
    Py_ssize_t no = PyTuple_GET_SIZE(others);
    for (Py_ssize_t k = 0; k < no; k++) {
        Py_ssize_t o = PyLong_AsSsize_t(PyTuple_GET_ITEM(others, k));
        PyObject *so = c->sv[o];
        PyObject *v = dget_i(L->pok, (xv << 32) | as_i64(so));
        if (v == NULL) {
            if (PyErr_Occurred()) return -1;
            v = PyObject_CallFunctionObjArgs(L->pair_ok, x, so, NULL);
            if (v == NULL) return -1;
        }
        int ok = PyObject_IsTrue(v);
        Py_DECREF(v);
        if (ok < 0) return -1;
        if (!ok) {
            PyObject *r = PyObject_CallFunctionObjArgs(L->broken_recv, c->st, m, NULL);
            Py_XDECREF(r);
            if (r != NULL) PyErr_SetString(PyExc_AssertionError, "_broken_recv returned");
            return -1;
        }
    }
    if (!L->whole) return 0;
    PyObject *lx = PyList_GET_ITEM(L->lcs, PyLong_AsSsize_t(x));
    PyObject *li = PyList_GET_ITEM(L->lcs, PyLong_AsSsize_t(c->sv[i]));
    if (as_i64(lx) == as_i64(li)) return 0;
    /* The key packs (log, commitIndex) ids 24 bits apiece: it may pass 64 bits, so it is made
     * as Python makes it (this runs once per new server tuple, not per successor). */
    PyObject *kk = lx;
    Py_INCREF(kk);
    PyObject *args = PyTuple_New(no + 1);
    if (args == NULL) {
        Py_DECREF(kk);
        return -1;
    }
    Py_INCREF(x);
    PyTuple_SET_ITEM(args, 0, x);
    PyObject *shift = PyLong_FromLong(24);
    for (Py_ssize_t k = 0; k < no && kk != NULL; k++) {
        Py_ssize_t o = PyLong_AsSsize_t(PyTuple_GET_ITEM(others, k));
        Py_INCREF(c->sv[o]);
        PyTuple_SET_ITEM(args, k + 1, c->sv[o]);
        PyObject *sh = PyNumber_Lshift(kk, shift);
        Py_DECREF(kk);
        kk = sh == NULL ? NULL
                        : PyNumber_Or(sh, PyList_GET_ITEM(L->lcs, PyLong_AsSsize_t(c->sv[o])));
        Py_XDECREF(sh);
    }
    if (kk != NULL) {
        /* The stepping server's place, in the low 3 bits (FlatRaft._whole_ok). */
        PyObject *three = PyLong_FromLong(3);
        PyObject *sh = three == NULL ? NULL : PyNumber_Lshift(kk, three);
        Py_XDECREF(three);
        Py_DECREF(kk);
        PyObject *place = sh == NULL ? NULL : PyLong_FromLong(i);
        kk = place == NULL ? NULL : PyNumber_Or(sh, place);
        Py_XDECREF(place);
        Py_XDECREF(sh);
    }
    Py_XDECREF(shift);
    if (kk == NULL) {
        Py_DECREF(args);
        return -1;
    }
    PyObject *v = dget(L->wok, kk);
    if (v == NULL && !PyErr_Occurred())
        v = PyObject_CallFunctionObjArgs(L->whole_ok, kk, args, NULL);
    Py_DECREF(kk);
    Py_DECREF(args);
    if (v == NULL) return -1;
    int ok = PyObject_IsTrue(v);
    Py_DECREF(v);
    if (ok < 0) return -1;
    if (!ok) {
        PyObject *r = PyObject_CallFunctionObjArgs(L->broken_recv, c->st, m, NULL);
        Py_XDECREF(r);
        if (r != NULL) PyErr_SetString(PyExc_AssertionError, "_broken_recv returned");
        return -1;
    }
    return 0;
}

static int receipts(Loop *L, Ctx *c, PyObject *md, PyObject *keys, PyObject *succs,
                    PyObject *acts, PyObject *parts) {
    Py_ssize_t len = PyTuple_GET_SIZE(md);
    for (Py_ssize_t q = 0; q < len; q++) {
        PyObject *ki = PyTuple_GET_ITEM(md, q);
        Py_ssize_t k = PyLong_AsSsize_t(PyTuple_GET_ITEM(ki, 0));
        int i = (int)PyLong_AsLong(PyTuple_GET_ITEM(ki, 1));
        PyObject *it = PyTuple_GET_ITEM(PyTuple_GET_ITEM(c->f[i], 4), k);
        if (it == Py_None) continue;
        PyObject *ac = PyTuple_GET_ITEM(it, 0), *x = PyTuple_GET_ITEM(it, 1);
        PyObject *b2 = PyTuple_GET_ITEM(it, 2);
        int moved = PyObject_IsTrue(PyTuple_GET_ITEM(it, 3));
        int inb = PyObject_IsTrue(PyTuple_GET_ITEM(it, 4));
        PyObject *brel = PyTuple_GET_ITEM(it, 5), *m = PyTuple_GET_ITEM(it, 6);
        PyObject *others = PyTuple_GET_ITEM(it, 7);
        int64_t key = 0, part = 0;
        if (moved) {
            PyObject *full = make_succ(c->sv, L->n, i, x, b2, c->A2, c->E);
            if (full == NULL) return -1;
            PyObject *sv = make_sv(c->sv, L->n, i, x);
            if (sv == NULL) {
                Py_DECREF(full);
                return -1;
            }
            PyObject *cs = dget(L->okc, sv);
            int r = 0;
            if (cs == NULL) {
                r = PyErr_Occurred() ? -1 : receipt_checks(L, c, i, x, m, others);
                if (r == 0 && !inb) {
                    Py_DECREF(sv);
                    Py_DECREF(full);
                    continue;
                }
                if (r == 0) {
                    cs = get_or_call(L->cand, sv, L->candidates);
                    if (cs == NULL) r = -1;
                }
                if (r == 0) {
                    PyObject *o = PyObject_CallFunctionObjArgs(L->ok_servers, sv, cs, NULL);
                    if (o == NULL) r = -1;
                    Py_XDECREF(o);
                }
            } else if (!inb) {
                Py_DECREF(cs);
                Py_DECREF(sv);
                Py_DECREF(full);
                continue;
            }
            Py_DECREF(sv);
            if (r == 0) {
                if (L->zob) {
                    r = push_zkey(L, keys, c, brel, as_i64(brel));
                    part = c->p0;
                    if (L->parts && i < L->part_k)
                        part ^= zs_at(L, i, c->sv[i]) ^ zs_at(L, i, x);
                } else {
                    r = key_min(cs, brel, c->lh, L->hist ? c->eks0 : NULL, &key);
                    if (r == 0) r = append_i64(keys, key);
                    if (r == 0 && L->parts) r = sym_part(L, c->sv, i, x, &part);
                }
            }
            Py_XDECREF(cs);
            if (r == 0) r = PyList_Append(succs, full);
            Py_DECREF(full);
            if (r < 0) return -1;
        } else {
            if (!inb) continue;
            if (L->zob) {
                if (push_zkey(L, keys, c, brel, as_i64(brel)) < 0) return -1;
                part = c->p0;
            } else {
                if (key_min(c->cs0, brel, c->lh, L->hist ? c->eks0 : NULL, &key) < 0) return -1;
                if (append_i64(keys, key) < 0) return -1;
                if (L->parts && sym_part(L, c->sv, -1, NULL, &part) < 0) return -1;
            }
            if (push_succ(succs, make_succ(c->sv, L->n, -1, NULL, b2, c->A2, c->E)) < 0)
                return -1;
        }
        if (L->parts && append_i64(parts, part) < 0) return -1;
        if (PyList_Append(acts, ac) < 0) return -1;
    }
    return 0;
}

static int fault_steps(Loop *L, Ctx *c, Py_ssize_t nmsgs, PyObject *keys, PyObject *succs,
                       PyObject *acts, PyObject *parts, int64_t *generated) {
    Py_ssize_t b = PyLong_AsSsize_t(c->b);
    PyObject *fi = PyList_GET_ITEM(L->bag_faults, b);
    if (fi == Py_None) {
        fi = PyObject_CallOneArg(L->fault_steps, c->b);
        if (fi == NULL) return -1;
    } else {
        Py_INCREF(fi);
    }
    int r = 0;
    PyObject *fa = PyList_GET_ITEM(L->bag_fault_acts, b);
    Py_ssize_t end = PyList_GET_SIZE(acts);
    if (PyList_SetSlice(acts, end, end, fa) < 0) r = -1;
    *generated += 2 * nmsgs;
    if (r == 0) r = add_at(L->enabled, (Py_ssize_t)L->a_dup, nmsgs);
    if (r == 0) r = add_at(L->enabled, (Py_ssize_t)L->a_drop, nmsgs);
    int64_t part = c->p0;
    if (r == 0 && L->parts && !L->zob) r = sym_part(L, c->sv, -1, NULL, &part);
    Py_ssize_t len = PyTuple_GET_SIZE(fi);
    for (Py_ssize_t k = 0; k < len && r == 0; k++) {
        PyObject *e = PyTuple_GET_ITEM(fi, k);
        PyObject *b2 = PyTuple_GET_ITEM(e, 1), *zd = PyTuple_GET_ITEM(e, 2);
        if (L->zob) {
            r = push_zkey(L, keys, c, zd, as_i64(zd));
        } else {
            int64_t key;
            r = key_min(c->cs0, zd, c->lh, L->hist ? c->eks0 : NULL, &key);
            if (r == 0) r = append_i64(keys, key);
        }
        if (r == 0) r = push_succ(succs, make_succ(c->sv, L->n, -1, NULL, b2, c->A2, c->E));
        if (r == 0 && L->parts) r = append_i64(parts, part);
    }
    Py_DECREF(fi);
    return r;
}

/* Everything the Python loop does for a state whose parts are cached, after the look-ups. */
static int state_header(Loop *L, Ctx *c, PyObject *bases) {
    c->cs0 = PyTuple_GET_ITEM(c->inf, 0);
    c->lh = 0;
    c->A2 = NULL;
    if (L->hist) {
        PyObject *infd = PyTuple_GET_ITEM(c->inf, 1);
        c->a2 = dget(infd, c->A);
        if (c->a2 == NULL) {
            if (PyErr_Occurred()) return -1;
            PyObject *key = PyTuple_New(L->n + 1);
            if (key == NULL) return -1;
            Py_INCREF(c->A);
            PyTuple_SET_ITEM(key, 0, c->A);
            for (int k = 0; k < L->n; k++) {
                PyObject *lc = PyList_GET_ITEM(L->lcs, PyLong_AsSsize_t(c->sv[k]));
                Py_INCREF(lc);
                PyTuple_SET_ITEM(key, k + 1, lc);
            }
            PyObject *A2 = dget(L->logs_step, key);
            Py_DECREF(key);
            if (A2 == NULL) {
                if (PyErr_Occurred()) return -1;
                PyObject *sv0 = PyTuple_GetSlice(c->st, 0, L->n);
                if (sv0 == NULL) return -1;
                A2 = PyObject_CallFunctionObjArgs(L->all_logs_step, c->A, sv0, NULL);
                Py_DECREF(sv0);
                if (A2 == NULL) return -1;
            }
            int64_t lh = as_i64(PyList_GET_ITEM(L->logs_hash, PyLong_AsSsize_t(A2)));
            if (L->zob) lh ^= as_i64(PyTuple_GET_ITEM(PyTuple_GET_ITEM(c->cs0, 0), 1));
            PyObject *lho = PyLong_FromLongLong(lh);
            c->a2 = lho == NULL ? NULL : PyTuple_Pack(2, A2, lho);
            Py_DECREF(A2);
            Py_XDECREF(lho);
            if (c->a2 == NULL || PyDict_SetItem(infd, c->A, c->a2) < 0) return -1;
        }
        c->A2 = PyTuple_GET_ITEM(c->a2, 0);
        c->lh = as_i64(PyTuple_GET_ITEM(c->a2, 1));
        c->eks0 = get_or_call(L->eks, c->E, L->eks_all);
        if (c->eks0 == NULL) return -1;
    }
    if (L->zob) {
        c->p0 = 0;
        if (L->parts)
            for (int k = 0; k < L->part_k; k++) c->p0 ^= zs_at(L, k, c->sv[k]);
        PyObject *bb = get_or_call(L->brel, c->b, L->brel_all);
        if (bb == NULL) return -1;
        int64_t b0 = as_i64(PyTuple_GET_ITEM(bb, 0));
        Py_DECREF(bb);
        if (L->hist)
            c->base = c->lh ^ b0 ^ as_i64(PyTuple_GET_ITEM(c->eks0, 0));
        else
            c->base = as_i64(PyTuple_GET_ITEM(PyTuple_GET_ITEM(c->cs0, 0), 1)) ^ b0;
        if (L->delta && append_i64(bases, c->base) < 0) return -1;
    }
    return PyErr_Occurred() ? -1 : 0;
}

/* The look-ups of a state's cached parts; 1 if all are there, 0 if not, -1 on error. */
static int lookup(Loop *L, Ctx *c) {
    PyObject *sv0 = PyTuple_GetSlice(c->st, 0, L->n);
    if (sv0 == NULL) return -1;
    c->inf = dget(L->svinfo, sv0);
    Py_DECREF(sv0);
    int all = c->inf != NULL;
    for (int i = 0; i < L->n; i++) {
        Py_ssize_t sid = PyLong_AsSsize_t(c->sv[i]);
        if (sid < 0 || sid >= PyList_GET_SIZE(L->ftl[i])) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_IndexError, "server id out of range");
            return -1;
        }
        c->f[i] = dget(PyList_GET_ITEM(L->ftl[i], sid), c->b);
        if (c->f[i] == NULL) all = 0;
    }
    return PyErr_Occurred() ? -1 : all;
}

static int set_reached(Loop *L, unsigned long long reached) {
    PyObject *o = PyLong_FromUnsignedLongLong(reached);
    if (o == NULL) return -1;
    int r = PyObject_SetAttr(L->owner, L->str_reached, o);
    Py_DECREF(o);
    return r;
}

static int get_reached(Loop *L, unsigned long long *reached) {
    PyObject *o = PyObject_GetAttr(L->owner, L->str_reached);
    if (o == NULL) return -1;
    *reached = PyLong_AsUnsignedLongLong(o);
    Py_DECREF(o);
    return PyErr_Occurred() ? -1 : 0;
}

/* The slow path for one state (its parts could not all be cached: a check failed). */
static int slow_path(Loop *L, Ctx *c, PyObject *keys, PyObject *succs, PyObject *acts,
                     PyObject *parts, PyObject *bases, unsigned long long *reached,
                     int64_t *generated) {
    if (set_reached(L, *reached) < 0) return -1;
    PyObject *one = PyList_New(1), *firsts = PyList_New(0);
    PyObject *g = NULL;
    if (one != NULL && firsts != NULL) {
        Py_INCREF(c->st);
        PyList_SET_ITEM(one, 0, c->st);
        if (L->parts)
            g = PyObject_CallFunctionObjArgs(L->slow, one, keys, succs, acts, firsts, parts, NULL);
        else
            g = PyObject_CallFunctionObjArgs(L->slow, one, keys, succs, acts, firsts, NULL);
    }
    Py_XDECREF(one);
    Py_XDECREF(firsts);
    if (g == NULL) return -1;
    *generated += as_i64(g);
    Py_DECREF(g);
    if (get_reached(L, reached) < 0) return -1;
    if (L->delta && append_i64(bases, 0) < 0) return -1;
    return 0;
}

static int expand_state(Loop *L, Ctx *c, PyObject *keys, PyObject *succs, PyObject *acts,
                        PyObject *parts, PyObject *bases, unsigned long long *reached,
                        int pending, int64_t *generated) {
    int n = L->n;
    int all = lookup(L, c);
    if (all < 0) return -1;
    if (!all) {
        ctx_clear(c, n);
        c->inf = PyObject_CallOneArg(L->prepare, c->st);
        if (c->inf == NULL) return -1;
        if (c->inf == Py_None) {
            Py_CLEAR(c->inf);
            return slow_path(L, c, keys, succs, acts, parts, bases, reached, generated);
        }
        for (int i = 0; i < n; i++) {
            PyObject *places = PyList_GET_ITEM(L->ftl[i], PyLong_AsSsize_t(c->sv[i]));
            c->f[i] = dget(places, c->b);
            if (c->f[i] == NULL) {
                if (!PyErr_Occurred()) PyErr_SetObject(PyExc_KeyError, c->b);
                return -1;
            }
        }
    }
    if (state_header(L, c, bases) < 0) return -1;
    for (int i = 0; i < n; i++) {
        PyObject *cell = PyTuple_GET_ITEM(c->f[i], 0);
        if (add_at(cell, 0, 1) < 0) return -1;
        *generated += as_i64(PyTuple_GET_ITEM(c->f[i], 1));
        if (pending) *reached |= PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(c->f[i], 2));
    }
    if (PyErr_Occurred()) return -1;
    for (int i = 0; i < n; i++)
        if (local_steps(L, c, i, keys, succs, acts, parts) < 0) return -1;
    PyObject *md = PyList_GET_ITEM(L->bag_md, PyLong_AsSsize_t(c->b));
    Py_ssize_t nmsgs = PyTuple_GET_SIZE(md);
    if (!nmsgs) return 0;
    if (receipts(L, c, md, keys, succs, acts, parts) < 0) return -1;
    if (L->faults) return fault_steps(L, c, nmsgs, keys, succs, acts, parts, generated);
    return 0;
}

/* expand(states, keys, succs, acts, firsts[, parts][, bases]) -> generated */
static PyObject *Loop_call(Loop *L, PyObject *args, PyObject *kwargs) {
    Py_ssize_t want = 5 + L->parts + L->delta;
    if (kwargs != NULL && PyDict_GET_SIZE(kwargs)) {
        PyErr_SetString(PyExc_TypeError, "expand takes positional arguments only");
        return NULL;
    }
    if (PyTuple_GET_SIZE(args) != want) {
        PyErr_Format(PyExc_TypeError, "expand takes %zd arguments", want);
        return NULL;
    }
    PyObject *states = PyTuple_GET_ITEM(args, 0);
    PyObject *keys = PyTuple_GET_ITEM(args, 1), *succs = PyTuple_GET_ITEM(args, 2);
    PyObject *acts = PyTuple_GET_ITEM(args, 3), *firsts = PyTuple_GET_ITEM(args, 4);
    PyObject *parts = L->parts ? PyTuple_GET_ITEM(args, 5) : NULL;
    PyObject *bases = L->delta ? PyTuple_GET_ITEM(args, 5 + L->parts) : NULL;
    for (Py_ssize_t k = 1; k < want; k++) {
        if (!PyList_Check(PyTuple_GET_ITEM(args, k))) {
            PyErr_SetString(PyExc_TypeError, "expand appends to lists");
            return NULL;
        }
    }
    PyObject *seq = PySequence_Fast(states, "states must be a sequence");
    if (seq == NULL) return NULL;
    unsigned long long reached;
    if (get_reached(L, &reached) < 0) {
        Py_DECREF(seq);
        return NULL;
    }
    int pending = reached != L->all_notes;
    int64_t generated = 0;
    int n = L->n, width = n + 1 + (L->hist ? 2 : 0);
    Ctx c;
    memset(&c, 0, sizeof c);
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    int err = 0;
    for (Py_ssize_t s = 0; s < count && !err; s++) {
        PyObject *st = items[s];
        if (!PyTuple_Check(st) || PyTuple_GET_SIZE(st) != width) {
            PyErr_SetString(PyExc_TypeError, "a state of the wrong shape");
            err = 1;
            break;
        }
        if (append_i64(firsts, PyList_GET_SIZE(keys)) < 0) {
            err = 1;
            break;
        }
        c.st = st;
        for (int i = 0; i < n; i++) c.sv[i] = PyTuple_GET_ITEM(st, i);
        c.b = PyTuple_GET_ITEM(st, n);
        c.A = L->hist ? PyTuple_GET_ITEM(st, n + 1) : NULL;
        c.E = L->hist ? PyTuple_GET_ITEM(st, n + 2) : NULL;
        err = expand_state(L, &c, keys, succs, acts, parts, bases, &reached, pending,
                           &generated) < 0;
        ctx_clear(&c, n);
    }
    Py_DECREF(seq);
    if (err) return NULL;
    if (pending && set_reached(L, reached) < 0) return NULL;
    return PyLong_FromLongLong(generated);
}

/* --- the type ---------------------------------------------------------------------------- */

#define LOOP_OBJECTS(X)                                                                        \
    X(owner) X(bag_md) X(svinfo) X(slow) X(prepare) X(okc) X(bag_faults) X(bag_fault_acts)     \
    X(fault_steps) X(ok_servers) X(pok) X(cand) X(candidates) X(brel) X(brel_all) X(pair_ok)   \
    X(lcs) X(wok) X(whole_ok) X(enabled) X(logs_step) X(all_logs_step) X(logs_hash) X(eks)     \
    X(eks_all) X(els_plus) X(cl) X(broken_recv) X(str_reached)

static int Loop_traverse(Loop *L, visitproc visit, void *arg) {
#define VISIT(f) Py_VISIT(L->f);
    LOOP_OBJECTS(VISIT)
#undef VISIT
    for (int i = 0; i < MAXN; i++) {
        Py_VISIT(L->ftl[i]);
        Py_VISIT(L->zs[i]);
    }
    return 0;
}

static int Loop_clear(Loop *L) {
#define CLEAR(f) Py_CLEAR(L->f);
    LOOP_OBJECTS(CLEAR)
#undef CLEAR
    for (int i = 0; i < MAXN; i++) {
        Py_CLEAR(L->ftl[i]);
        Py_CLEAR(L->zs[i]);
    }
    return 0;
}

static void Loop_dealloc(Loop *L) {
    PyObject_GC_UnTrack(L);
    Loop_clear(L);
    Py_TYPE(L)->tp_free((PyObject *)L);
}

/* An attribute of the owner that must be a list (or a dict), checked once here so the loop
 * can use the unchecked macros. */
static PyObject *attr(PyObject *owner, const char *name, int kind) {
    PyObject *v = PyObject_GetAttrString(owner, name);
    if (v == NULL) return NULL;
    if ((kind == 1 && !PyList_Check(v)) || (kind == 2 && !PyDict_Check(v))) {
        PyErr_Format(PyExc_TypeError, "%s has the wrong type", name);
        Py_DECREF(v);
        return NULL;
    }
    return v;
}

static PyObject *dict_of_method(PyObject *owner, const char *name) {
    /* The Python loop binds d.get; here the dict itself. */
    return attr(owner, name, 2);
}

static int Loop_init(Loop *L, PyObject *args, PyObject *kwargs) {
    static char *kw[] = {"owner", "n", "hist", "faults", "zob", "delta", "parts", "part_k", NULL};
    PyObject *owner;
    int n, hist, faults, zob, delta, parts, part_k;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "Oipppppi", kw, &owner, &n, &hist, &faults,
                                     &zob, &delta, &parts, &part_k))
        return -1;
    if (n < 1 || n > MAXN) {
        PyErr_Format(PyExc_ValueError, "the C loop handles 1 to %d servers", MAXN);
        return -1;
    }
    if (delta && !zob) {
        PyErr_SetString(PyExc_ValueError, "delta keys need Zobrist keys");
        return -1;
    }
    Loop_clear(L);
    L->n = n, L->hist = hist, L->faults = faults, L->zob = zob, L->delta = delta;
    L->parts = parts, L->part_k = part_k ? part_k : n;
    Py_INCREF(owner);
    L->owner = owner;
    PyObject *ftl = attr(owner, "_ftl", 1), *zs = zob ? attr(owner, "_zs", 1) : NULL;
    if (ftl == NULL || (zob && zs == NULL) || PyList_GET_SIZE(ftl) != n ||
        (zob && PyList_GET_SIZE(zs) != n)) {
        Py_XDECREF(ftl);
        Py_XDECREF(zs);
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "tables of the wrong size");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        L->ftl[i] = PyList_GET_ITEM(ftl, i);
        Py_INCREF(L->ftl[i]);
        if (zob) {
            L->zs[i] = PyList_GET_ITEM(zs, i);
            Py_INCREF(L->zs[i]);
        }
    }
    Py_DECREF(ftl);
    Py_XDECREF(zs);
#define GET(field, name, kind)                                                                 \
    if ((L->field = attr(owner, name, kind)) == NULL) return -1;
    GET(bag_md, "_bag_md", 1)
    GET(slow, parts ? "_slow_expand_parts" : "_slow_expand", 0)
    GET(prepare, "_prepare", 0)
    GET(bag_faults, "_bag_faults", 1)
    GET(bag_fault_acts, "_bag_fault_acts", 1)
    GET(fault_steps, "_fault_steps", 0)
    GET(ok_servers, "_ok_servers", 0)
    GET(candidates, "_candidates", 0)
    GET(brel_all, "_bag_rel_all", 0)
    GET(pair_ok, "_pair_ok", 0)
    GET(lcs, "_srv_lc", 1)
    GET(whole_ok, "_whole_ok", 0)
    GET(enabled, "_enabled", 1)
    GET(all_logs_step, "_all_logs_step", 0)
    GET(logs_hash, "_logs_hash", 1)
    GET(eks_all, "_els_all", 0)
    GET(els_plus, "_els_plus", 0)
    GET(cl, "_srv_cls", 1)
    GET(broken_recv, "_broken_recv", 0)
#undef GET
#define DICT(field, name)                                                                      \
    if ((L->field = dict_of_method(owner, name)) == NULL) return -1;
    DICT(svinfo, "_svinfo")
    DICT(okc, "_okc")
    DICT(pok, "_pok")
    DICT(cand, "_cand")
    DICT(brel, "_brel")
    DICT(wok, "_wok")
    DICT(logs_step, "_logs_step")
    DICT(eks, "_els_rel_all")
#undef DICT
    PyObject *w = PyObject_GetAttrString(owner, "_whole");
    if (w == NULL) return -1;
    L->whole = PyObject_IsTrue(w);
    Py_DECREF(w);
    PyObject *o;
    if ((o = PyObject_GetAttrString(owner, "_all_notes")) == NULL) return -1;
    L->all_notes = PyLong_AsUnsignedLongLong(o);
    Py_DECREF(o);
    if ((o = PyObject_GetAttrString(owner, "_a_dup")) == NULL) return -1;
    L->a_dup = as_i64(o);
    Py_DECREF(o);
    if ((o = PyObject_GetAttrString(owner, "_a_drop")) == NULL) return -1;
    L->a_drop = as_i64(o);
    Py_DECREF(o);
    if (PyErr_Occurred()) return -1;
    L->str_reached = PyUnicode_InternFromString("reached");
    return L->str_reached == NULL ? -1 : 0;
}

static PyTypeObject LoopType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "raftkit.modelcheck.compiled._cloop.Loop",
    .tp_doc = PyDoc_STR("The flat form's cached expand, in C (see loop_cached.py)."),
    .tp_basicsize = sizeof(Loop),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Loop_init,
    .tp_dealloc = (destructor)Loop_dealloc,
    .tp_traverse = (traverseproc)Loop_traverse,
    .tp_clear = (inquiry)Loop_clear,
    .tp_call = (ternaryfunc)Loop_call,
};

static struct PyModuleDef cloop_module = {
    PyModuleDef_HEAD_INIT, "_cloop",
    "The flat form's cached loop in C; the generated Python loop is the reference.", -1, NULL,
};

PyMODINIT_FUNC PyInit__cloop(void) {
    if (PyType_Ready(&LoopType) < 0) return NULL;
    PyObject *m = PyModule_Create(&cloop_module);
    if (m == NULL) return NULL;
    Py_INCREF(&LoopType);
    if (PyModule_AddObject(m, "Loop", (PyObject *)&LoopType) < 0) {
        Py_DECREF(&LoopType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
