#include "hessq/eval/snr_report.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "hessq/eval/svg_chart.hpp"

namespace hessq::eval {

namespace {

constexpr const char* kProjOrder[] = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
constexpr const char* kLowRank[] = {"svdquant", "arhq", "arhq-h", "arhq+refine", "arhq-rsvd"};
constexpr const char* kSettings[] = {"raw", "smooth"};
constexpr double kMs = 1e3;

bool is_alloc(const std::string& method) { return method.rfind("arhq-alloc", 0) == 0; }

int proj_index(const std::string& p) {
  for (int i = 0; i < 7; ++i)
    if (p == kProjOrder[i]) return i;
  return 7;
}

using LinearKey = std::pair<int, int>;  // (layer, proj index)

struct Column {
  std::string method, setting;
  std::string label() const { return method + " " + setting; }
};

// Records of one format, indexed by (method, setting, rank) then linear.
struct Index {
  std::map<std::tuple<std::string, std::string, int>, std::map<LinearKey, const SnrRecord*>> by;
  std::set<int> ranks;           // ranks of low-rank records
  std::vector<Column> lowrank;   // present low-rank columns, canonical order
  std::set<LinearKey> linears;
  std::map<LinearKey, std::string> proj_name;

  Index(const std::vector<SnrRecord>& records, const std::string& format) {
    std::set<std::pair<std::string, std::string>> seen;
    for (const SnrRecord& r : records) {
      if (r.format != format) continue;
      const LinearKey k{r.layer, proj_index(r.proj)};
      const int rank = is_alloc(r.method) ? r.budget_rank : r.rank;
      by[{r.method, r.setting, rank}][k] = &r;
      linears.insert(k);
      proj_name[k] = r.proj;
      if (r.method != "baseline" && r.method != "smoothquant" && !is_alloc(r.method)) {
        ranks.insert(r.rank);
        seen.insert({r.method, r.setting});
      }
    }
    for (const char* s : kSettings)
      for (const char* m : kLowRank)
        if (seen.count({m, s})) lowrank.push_back({m, s});
  }
  const SnrRecord* get(const std::string& method, const std::string& setting, int rank, const LinearKey& k) const {
    auto it = by.find({method, setting, rank});
    if (it == by.end()) return nullptr;
    auto jt = it->second.find(k);
    return jt == it->second.end() ? nullptr : jt->second;
  }
  const SnrRecord* base(const LinearKey& k) const { return get("baseline", "raw", 0, k); }
  const SnrRecord* smooth(const LinearKey& k) const { return get("smoothquant", "smooth", 0, k); }
  // Linears with any low-rank record at `rank`.
  std::vector<LinearKey> at_rank(int rank) const {
    std::vector<LinearKey> out;
    for (const LinearKey& k : linears)
      for (const Column& c : lowrank)
        if (get(c.method, c.setting, rank, k)) {
          out.push_back(k);
          break;
        }
    return out;
  }
};

struct Mean {
  double sum = 0, gain = 0;
  int n = 0;
  void add(const SnrRecord* r) {
    if (!r || !std::isfinite(r->snr_db)) return;
    sum += r->snr_db;
    gain += r->gain_db;
    ++n;
  }
  double value() const { return n ? sum / n : NAN; }
  std::string cell(bool with_gain) const {
    if (!n) return "—";
    return with_gain ? fmt::format("{:.2f} ({:+.2f})", sum / n, gain / n) : fmt::format("{:.2f}", sum / n);
  }
};

std::string header_row(const std::vector<std::string>& cols) {
  std::string h = "|", sep = "|";
  for (const std::string& c : cols) {
    h += " " + c + " |";
    sep += "---|";
  }
  return h + "\n" + sep + "\n";
}

std::string row(const std::vector<std::string>& cells) {
  std::string s = "|";
  for (const std::string& c : cells) s += " " + c + " |";
  return s + "\n";
}

std::string fmt_num(double v, const char* spec = "{:.2f}") { return std::isfinite(v) ? fmt::format(fmt::runtime(spec), v) : "—"; }

std::string per_rank_table(const Index& ix) {
  std::vector<std::string> cols = {"rank", "linears", "branch params %", "baseline", "smoothquant"};
  for (const Column& c : ix.lowrank) cols.push_back(c.label());
  std::string o = header_row(cols);
  for (int rank : ix.ranks) {
    const auto ks = ix.at_rank(rank);
    Mean base, sq, pct;
    std::vector<Mean> m(ix.lowrank.size());
    double pct_sum = 0;
    for (const LinearKey& k : ks) {
      base.add(ix.base(k));
      sq.add(ix.smooth(k));
      for (size_t i = 0; i < ix.lowrank.size(); ++i) {
        const SnrRecord* r = ix.get(ix.lowrank[i].method, ix.lowrank[i].setting, rank, k);
        m[i].add(r);
        if (r && i == 0) pct_sum += r->extra_params_pct;
      }
    }
    std::vector<std::string> cells = {std::to_string(rank), std::to_string(ks.size()),
                                      fmt_num(ks.empty() ? NAN : pct_sum / ks.size(), "{:.1f}"), base.cell(false),
                                      sq.cell(true)};
    for (const Mean& x : m) cells.push_back(x.cell(true));
    o += row(cells);
  }
  return o;
}

// mean(a - b) and wins of `a` over `b` per projection type, setting and rank.
std::string versus_table(const Index& ix, const std::string& a, const std::string& b) {
  std::vector<std::string> cols = {"proj", "setting"};
  for (int rank : ix.ranks) cols.push_back(fmt::format("r={}", rank));
  cols.push_back("all ranks");
  std::string o = header_row(cols);
  bool any = false;
  for (const char* setting : kSettings) {
    for (int p = 0; p <= 7; ++p) {
      std::vector<std::string> cells = {p == 7 ? "**all**" : kProjOrder[p], setting};
      double tot = 0;
      int tot_n = 0, tot_w = 0;
      for (int rank : ix.ranks) {
        double d = 0;
        int n = 0, w = 0;
        for (const LinearKey& k : ix.linears) {
          if (p < 7 && k.second != p) continue;
          const SnrRecord *ra = ix.get(a, setting, rank, k), *rb = ix.get(b, setting, rank, k);
          if (!ra || !rb || !std::isfinite(ra->snr_db) || !std::isfinite(rb->snr_db)) continue;
          d += ra->snr_db - rb->snr_db;
          w += ra->snr_db > rb->snr_db;
          ++n;
        }
        cells.push_back(n ? fmt::format("{:+.2f} ({}/{})", d / n, w, n) : "—");
        tot += d;
        tot_n += n;
        tot_w += w;
      }
      if (!tot_n) continue;
      cells.push_back(fmt::format("{:+.2f} ({}/{})", tot / tot_n, tot_w, tot_n));
      o += row(cells);
      any = true;
    }
  }
  return any ? o : "";
}

std::string proj_rank_table(const Index& ix) {
  std::vector<std::string> cols = {"proj", "rank", "baseline", "smoothquant"};
  for (const Column& c : ix.lowrank) cols.push_back(c.label());
  std::string o = header_row(cols);
  for (int p = 0; p < 7; ++p)
    for (int rank : ix.ranks) {
      Mean base, sq;
      std::vector<Mean> m(ix.lowrank.size());
      int n = 0;
      for (const LinearKey& k : ix.at_rank(rank)) {
        if (k.second != p) continue;
        ++n;
        base.add(ix.base(k));
        sq.add(ix.smooth(k));
        for (size_t i = 0; i < ix.lowrank.size(); ++i) m[i].add(ix.get(ix.lowrank[i].method, ix.lowrank[i].setting, rank, k));
      }
      if (!n) continue;
      std::vector<std::string> cells = {kProjOrder[p], std::to_string(rank), base.cell(false), sq.cell(false)};
      for (const Mean& x : m) cells.push_back(x.cell(false));
      o += row(cells);
    }
  return o;
}

// Ranks allocated under the uniform budget vs uniform ARHQ, over the same linears: mean dB
// difference, ratio of mean relative noise (NSR = 10^(-SNR/10); < 1 is better) and the rank range.
std::string alloc_cell(const Index& ix, const std::string& method, const std::string& setting, int rank) {
  double d = 0, nsr_a = 0, nsr_u = 0;
  int n = 0, rmin = 1 << 30, rmax = -1;
  for (const LinearKey& k : ix.linears) {
    const SnrRecord *u = ix.get("arhq", setting, rank, k), *r = ix.get(method, setting, rank, k);
    if (!u || !r) continue;
    d += r->snr_db - u->snr_db;
    nsr_a += std::pow(10.0, -r->snr_db / 10);
    nsr_u += std::pow(10.0, -u->snr_db / 10);
    rmin = std::min(rmin, r->rank);
    rmax = std::max(rmax, r->rank);
    ++n;
  }
  return n ? fmt::format("{:+.2f} / {:.3f} ({}..{})", d / n, nsr_a / nsr_u, rmin, rmax) : "—";
}

std::string extras_table(const Index& ix) {
  std::string o = header_row({"setting", "rank", "arhq", "+refine Δ (wins)", "rsvd Δ", "rsvd ‖ΔL‖/‖L‖",
                              "svd ms exact / rsvd", "alloc (nsr): Δ dB / NSR ratio (ranks)",
                              "alloc-db: Δ dB / NSR ratio (ranks)"});
  bool any = false;
  for (const char* setting : kSettings)
    for (int rank : ix.ranks) {
      if (rank == 0) continue;
      Mean arhq;
      double dref = 0, drs = 0, ldiff = 0, t_ex = 0, t_rs = 0;
      int nref = 0, wref = 0, nrs = 0;
      for (const LinearKey& k : ix.linears) {
        const SnrRecord* a = ix.get("arhq", setting, rank, k);
        if (!a) continue;
        arhq.add(a);
        if (const SnrRecord* r = ix.get("arhq+refine", setting, rank, k)) {
          dref += r->snr_db - a->snr_db;
          wref += r->snr_db > a->snr_db;
          ++nref;
        }
        if (const SnrRecord* r = ix.get("arhq-rsvd", setting, rank, k)) {
          drs += r->snr_db - a->snr_db;
          ldiff += r->extra.count("l_rel_diff") ? r->extra.at("l_rel_diff") : 0;
          t_ex += a->svd_s;
          t_rs += r->svd_s;
          ++nrs;
        }
      }
      const std::string al = alloc_cell(ix, "arhq-alloc", setting, rank);
      const std::string ad = alloc_cell(ix, "arhq-alloc-db", setting, rank);
      if (!arhq.n || (!nref && !nrs && al == "—" && ad == "—")) continue;
      any = true;
      o += row({setting, std::to_string(rank), arhq.cell(false),
                nref ? fmt::format("{:+.3f} ({}/{})", dref / nref, wref, nref) : "—",
                nrs ? fmt::format("{:+.3f}", drs / nrs) : "—", nrs ? fmt::format("{:.2e}", ldiff / nrs) : "—",
                nrs ? fmt::format("{:.2f} / {:.2f}", t_ex / nrs * kMs, t_rs / nrs * kMs) : "—", al, ad});
    }
  return any ? o : "";
}

std::string timing_table(const std::vector<SnrRecord>& records, const std::string& format) {
  struct Acc {
    double eigh = 0, svd = 0, rest = 0, total = 0;
    int n = 0;
  };
  std::map<std::tuple<std::string, std::string, int64_t, int64_t, int>, Acc> acc;
  for (const SnrRecord& r : records) {
    if (r.format != format || r.svd.empty() || is_alloc(r.method)) continue;
    Acc& a = acc[{r.method, r.svd, r.m, r.n, r.method == "arhq-rsvd" || r.method == "arhq+refine" ? r.rank : -1}];
    a.eigh += r.eigh_s;
    a.svd += r.svd_s;
    a.rest += r.rest_s;
    a.total += r.time_s;
    ++a.n;
  }
  if (acc.empty()) return "";
  std::string o = header_row({"method", "svd", "shape [m, n]", "rank", "eigh ms", "svd ms", "rest ms", "total ms", "records"});
  for (const auto& [k, a] : acc) {
    const auto& [method, svd, m, n, rank] = k;
    o += row({method, svd, fmt::format("[{}, {}]", m, n), rank < 0 ? "all" : std::to_string(rank),
              fmt::format("{:.2f}", a.eigh / a.n * kMs), fmt::format("{:.2f}", a.svd / a.n * kMs),
              fmt::format("{:.2f}", a.rest / a.n * kMs), fmt::format("{:.2f}", a.total / a.n * kMs), std::to_string(a.n)});
  }
  return o;
}

}  // namespace

std::string snr_summary_markdown(const std::vector<SnrRecord>& records) {
  std::string o;
  for (const std::string& f : snr_formats(records)) {
    const Index ix(records, f);
    o += fmt::format("### Format {}\n\nMean held-out SNR (dB) per rank; in parentheses the mean gain over the "
                     "baseline Q_x(X) Q_w(W)^T:\n\n{}\n",
                     f, per_rank_table(ix));
    if (ix.lowrank.empty()) continue;
    const std::string vs = versus_table(ix, "arhq", "svdquant"), vsh = versus_table(ix, "arhq-h", "svdquant");
    if (!vs.empty())
      o += "ARHQ − SVDQuant per projection type: mean SNR difference in dB (linears where ARHQ is higher / linears):\n\n" +
           vs + "\n";
    if (!vsh.empty()) o += "ARHQ-H − SVDQuant, same layout:\n\n" + vsh + "\n";
    o += "Mean held-out SNR (dB) per projection type and rank:\n\n" + proj_rank_table(ix) + "\n";
    const std::string ex = extras_table(ix);
    if (!ex.empty())
      o += "Beyond the paper, each against plain ARHQ at the same rank and setting (Δ = mean SNR difference in dB; "
           "alloc: ranks allocated under the uniform-rank budget, maximizing -sum of relative noise (nsr) or the mean dB "
           "(db); NSR ratio = mean relative noise of the allocation / of uniform ARHQ, < 1 is better):\n\n" + ex + "\n";
    const std::string tt = timing_table(records, f);
    if (!tt.empty()) o += "Time per linear (mean over layers, settings and ranks):\n\n" + tt + "\n";
  }
  return o;
}

std::string snr_per_linear_markdown(const std::vector<SnrRecord>& records) {
  std::string o;
  for (const std::string& f : snr_formats(records)) {
    const Index ix(records, f);
    std::vector<std::string> cols = {"layer", "proj", "rank", "params %", "baseline", "smoothquant (alpha)"};
    for (const Column& c : ix.lowrank) cols.push_back(c.label());
    o += fmt::format("#### {}: held-out SNR (dB) per linear\n\n", f) + header_row(cols);
    for (const LinearKey& k : ix.linears)
      for (int rank : ix.ranks) {
        const SnrRecord* any = nullptr;
        std::vector<std::string> cells;
        for (const Column& c : ix.lowrank) {
          const SnrRecord* r = ix.get(c.method, c.setting, rank, k);
          if (r && !any) any = r;
          cells.push_back(r ? fmt::format("{:.2f}", r->snr_db) : "—");
        }
        if (!any) continue;
        const SnrRecord *b = ix.base(k), *s = ix.smooth(k);
        std::vector<std::string> head = {std::to_string(k.first), ix.proj_name.at(k), std::to_string(rank),
                                         fmt::format("{:.1f}", any->extra_params_pct), b ? fmt::format("{:.2f}", b->snr_db) : "—",
                                         s ? fmt::format("{:.2f} ({:.2f})", s->snr_db, s->alpha) : "—"};
        head.insert(head.end(), cells.begin(), cells.end());
        o += row(head);
      }
    o += "\n";
  }
  return o;
}

std::string snr_markdown(const std::vector<SnrRecord>& records, const std::string& title, const std::string& command) {
  return fmt::format("# {}\n\n```\n{}\n```\n\n## Summary\n\n{}## Per linear\n\n{}", title, command,
                     snr_summary_markdown(records), snr_per_linear_markdown(records));
}

std::string snr_chart_svg(const std::vector<SnrRecord>& records, const std::string& format) {
  const Index ix(records, format);
  LineChart c;
  c.title = fmt::format("Mean held-out layer SNR vs rank ({})", format);
  c.x_label = "rank of the low-rank branch";
  c.y_label = "mean SNR (dB)";
  for (int rank : ix.ranks) c.x_ticks.push_back(std::to_string(rank));
  ChartSeries base{"baseline", {}, true}, sq{"smoothquant", {}, true};
  std::vector<ChartSeries> lr;
  for (const Column& col : ix.lowrank) lr.push_back({col.label(), {}, false});
  for (int rank : ix.ranks) {
    Mean b, s;
    std::vector<Mean> m(ix.lowrank.size());
    for (const LinearKey& k : ix.at_rank(rank)) {
      b.add(ix.base(k));
      s.add(ix.smooth(k));
      for (size_t i = 0; i < m.size(); ++i) m[i].add(ix.get(ix.lowrank[i].method, ix.lowrank[i].setting, rank, k));
    }
    base.y.push_back(b.value());
    sq.y.push_back(s.value());
    for (size_t i = 0; i < m.size(); ++i) lr[i].y.push_back(m[i].value());
  }
  auto any_finite = [](const ChartSeries& x) {
    return std::any_of(x.y.begin(), x.y.end(), [](double v) { return std::isfinite(v); });
  };
  for (ChartSeries* x : {&base, &sq})
    if (any_finite(*x)) c.series.push_back(*x);
  for (const ChartSeries& x : lr) c.series.push_back(x);
  return render_svg(c);
}

}  // namespace hessq::eval
