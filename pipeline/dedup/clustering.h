// pipeline/dedup/clustering.h — what LshIndex::Finalize is told and what it reports.
//
// Finalize joins documents that share any band bucket into clusters (connected components)
// and keeps the document with the smallest key of each; every other member is a duplicate that
// points to its cluster's kept document. The algorithm is bulk-synchronous min-label
// propagation over the index's RocksDB partitions; every label lives in RocksDB:
//
//   round 1   each partition scans its band buckets in key order; a bucket with two or more
//             members (a shared bucket) takes its first, smallest, member as its label and
//             proposes it to the others;
//   doc step  each document's owner takes the smallest label proposed to it; if that beats
//             the document's label it follows the new label's own label (pointer jumping, read
//             from a snapshot taken before the step), stores it and reports it to the
//             document's shared buckets;
//   bucket    each shared bucket whose smallest reported label beats its own takes it and
//   step      proposes it to all its members;
//   repeat    doc steps and bucket steps until no label changes.
//
// Labels only decrease and always name a member of the same cluster, so the fixpoint is the
// cluster's smallest key; round r reaches every document within r bucket hops of it, so the
// rounds are at most the largest cluster diameter + 1 (pointer jumping makes chains of sorted
// keys logarithmic). Proposals are RocksDB merges with a bytewise-min operator, so no step
// depends on the order in which partitions or threads write: the rounds, and the result, are
// a pure function of the set of (doc key, band keys) added. Memory per partition is its
// RocksDB budget (block cache, memtables charged to it, partitioned index and filters) plus a
// few write batches per thread: no bucket, cluster or document list is ever held in memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>

#include "nlohmann/json.hpp"

namespace winnow::pipeline {

struct FinalizeOptions {
  int threads = 0;                        // partitions processed at once; 0: hardware threads
  size_t write_batch_bytes = 256 << 10;   // a thread writes to a partition once this is pending
  size_t thread_pending_bytes = 4 << 20;  // a thread writes all its batches past this total
  int max_label_jumps = 16;               // label-of-label hops per label change (long chains)
  bool release_memory = true;             // glibc: give freed heap back to the OS after every step
};

struct FinalizeReport {
  uint64_t documents = 0;       // distinct document keys added
  uint64_t shared_buckets = 0;  // band buckets holding two or more documents
  uint64_t candidates = 0;      // documents in at least one shared bucket
  uint64_t duplicates = 0;      // documents marked duplicate (all but the kept one per cluster)
  uint64_t clusters = 0;        // clusters of two or more documents
  uint64_t rounds = 0;          // doc steps run; the last one changed no label
  uint64_t label_updates = 0;   // label changes over all rounds (the work done)
  std::map<uint64_t, uint64_t> cluster_sizes;  // cluster size (>= 2) → number of such clusters
  double seconds = 0;                          // wall time of Finalize, of which:
  double scan_seconds = 0;                     //   round 1: scanning the band index
  double doc_seconds = 0;                      //   doc steps
  double bucket_seconds = 0;                   //   bucket steps of rounds 2, 3, …

  nlohmann::json ToJson() const;
  static bool FromJson(const nlohmann::json& json, FinalizeReport* report);
};

}  // namespace winnow::pipeline
