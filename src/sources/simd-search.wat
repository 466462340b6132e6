;; Byte-pattern search with 128-bit SIMD. The source of simd-search.wasm.ts: after editing, run
;; `node scripts/build-wasm.mjs` (a test fails while the embedded bytes differ from this file).
;;
;; Filter, then verify: 32 candidate starts at a time are kept only when both the first and the last
;; byte of the pattern sit at the right distance (i8x16.eq + i8x16.bitmask), and only those are
;; compared in full. Memory is owned by the module; JS grows it and keeps its buffers in it.
(module
  (memory (export "memory") 1)

  ;; Does the $len-byte pattern at $pat occur at $p? (The caller has already checked the first and
  ;; last byte.) Compared 8 bytes at a time, the last word overlapping the one before it.
  (func $same (param $p i32) (param $pat i32) (param $len i32) (result i32)
    (local $k i32)
    (if (i32.ge_u (local.get $len) (i32.const 8)) (then
      (loop $words
        (if (i64.ne (i64.load (i32.add (local.get $p) (local.get $k)))
                    (i64.load (i32.add (local.get $pat) (local.get $k))))
          (then (return (i32.const 0))))
        (local.set $k (i32.add (local.get $k) (i32.const 8)))
        (br_if $words (i32.le_u (i32.add (local.get $k) (i32.const 8)) (local.get $len))))
      (local.set $k (i32.sub (local.get $len) (i32.const 8)))
      (return (i64.eq (i64.load (i32.add (local.get $p) (local.get $k)))
                      (i64.load (i32.add (local.get $pat) (local.get $k)))))))
    (local.set $k (i32.const 1))
    (block $done (loop $bytes
      (br_if $done (i32.ge_u (i32.add (local.get $k) (i32.const 1)) (local.get $len)))
      (if (i32.ne (i32.load8_u (i32.add (local.get $p) (local.get $k)))
                  (i32.load8_u (i32.add (local.get $pat) (local.get $k))))
        (then (return (i32.const 0))))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $bytes)))
    (i32.const 1))

  ;; The address of the first occurrence of the $len-byte pattern at $pat (2 <= $len) that lies
  ;; wholly within [$start, $end), or -1. No byte outside [$start, $end) or the pattern is read.
  (func (export "find") (param $start i32) (param $end i32) (param $pat i32) (param $len i32)
                        (result i32)
    (local $i i32) (local $last i32) (local $tail i32) (local $m i32) (local $p i32)
    (local $first v128) (local $lastByte v128)
    (if (i32.lt_s (i32.sub (local.get $end) (local.get $start)) (local.get $len))
      (then (return (i32.const -1))))
    (local.set $last (i32.sub (local.get $end) (local.get $len))) ;; the last start that fits
    (local.set $tail (i32.sub (local.get $len) (i32.const 1)))     ;; offset of the last byte
    (local.set $first (i8x16.splat (i32.load8_u (local.get $pat))))
    (local.set $lastByte (i8x16.splat (i32.load8_u (i32.add (local.get $pat) (local.get $tail)))))
    (local.set $i (local.get $start))
    ;; Starts [i, i+32) per step, while all of them fit (so every load stays below $end).
    (block $blocksDone (loop $blocks
      (br_if $blocksDone (i32.gt_u (i32.add (local.get $i) (i32.const 31)) (local.get $last)))
      (local.set $m (i32.or
        (i8x16.bitmask (v128.and
          (i8x16.eq (v128.load (local.get $i)) (local.get $first))
          (i8x16.eq (v128.load (i32.add (local.get $i) (local.get $tail))) (local.get $lastByte))))
        (i32.shl
          (i8x16.bitmask (v128.and
            (i8x16.eq (v128.load offset=16 (local.get $i)) (local.get $first))
            (i8x16.eq (v128.load offset=16 (i32.add (local.get $i) (local.get $tail)))
                      (local.get $lastByte))))
          (i32.const 16))))
      (block $bitsDone (loop $bits
        (br_if $bitsDone (i32.eqz (local.get $m)))
        (local.set $p (i32.add (local.get $i) (i32.ctz (local.get $m))))
        (if (call $same (local.get $p) (local.get $pat) (local.get $len))
          (then (return (local.get $p))))
        (local.set $m (i32.and (local.get $m) (i32.sub (local.get $m) (i32.const 1))))
        (br $bits)))
      (local.set $i (i32.add (local.get $i) (i32.const 32)))
      (br $blocks)))
    ;; Fewer than 32 starts left: one at a time. Nested ifs, as i32.and does not short-circuit.
    (block $tailDone (loop $starts
      (br_if $tailDone (i32.gt_u (local.get $i) (local.get $last)))
      (if (i32.eq (i32.load8_u (local.get $i)) (i32.load8_u (local.get $pat))) (then
        (if (i32.eq (i32.load8_u (i32.add (local.get $i) (local.get $tail)))
                    (i32.load8_u (i32.add (local.get $pat) (local.get $tail)))) (then
          (if (call $same (local.get $i) (local.get $pat) (local.get $len))
            (then (return (local.get $i))))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $starts)))
    (i32.const -1))
)
