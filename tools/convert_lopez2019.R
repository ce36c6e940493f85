#!/usr/bin/env Rscript
# Export the arm-level CBT-for-depression network meta-analysis data (Lopez-Lopez et al. 2019)
# from the R package metadat (dataset dat.lopez2019) to data/real/lopez2019.csv.
#
# Usage (from the repository root):
#   Rscript tools/convert_lopez2019.R [OUTPUT_CSV]
# Default output: data/real/lopez2019.csv. Requires the R package metadat
# (CRAN "metadat", Debian "r-cran-metadat"). After running it, update the sha256 in
# data/real/manifest.csv and data/real/README.md (tests/test_datasets.py checks them):
#   sha256sum data/real/lopez2019.csv
#
# The CSV holds every column of dat.lopez2019, unchanged, in the package's column order:
#   study      first author and year of the trial
#   treatment  arm: "F2F CBT", "Multimedia CBT", "Hybrid CBT", "Wait list", "No treatment",
#              "TAU" (treatment as usual), "Placebo" (psychological or attention placebo)
#   scale      depression scale of the outcome (BDI, CES-D, HAM-17, HAM-24, MADRS, PHQ-9, BSI, SDS)
#   n          arm size
#   diff       within-arm standardized mean change (negative = symptoms decreased)
#   se         its standard error, as labelled by metadat (see data/real/README.md)
#   group      0 = individual, 1 = group format
#   tailored   intervention tailored to the patient (0/1)
#   sessions   number of sessions (empty = not applicable / not reported)
#   length     average session length in minutes (empty = not applicable / not reported)
#   intensity  sessions x length (empty = not applicable / not reported)
#   multi      multimedia elements (0/1)
#   cog, ba, psed, home, prob, soc, relax, goal, final, mind, act
#              content components (0/1): cognitive techniques, behavioural activation,
#              psychoeducation, homework, problem solving, social skills training, relaxation,
#              goal setting, final session, mindfulness, acceptance and commitment therapy

args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args) >= 1) args[[1]] else file.path("data", "real", "lopez2019.csv")

suppressPackageStartupMessages(library(metadat))
dat <- metadat::dat.lopez2019

expected <- c("study", "treatment", "scale", "n", "diff", "se", "group", "tailored",
              "sessions", "length", "intensity", "multi", "cog", "ba", "psed", "home",
              "prob", "soc", "relax", "goal", "final", "mind", "act")
if (!identical(names(dat), expected)) {
  stop("dat.lopez2019 columns differ from the documented ones: ",
       paste(names(dat), collapse = ", "))
}

dir.create(dirname(out), recursive = TRUE, showWarnings = FALSE)
# fixed formatting so that the file (and its sha256) is reproducible
write.csv(dat, out, row.names = FALSE, na = "", fileEncoding = "UTF-8")
cat(sprintf("wrote %s: %d rows, %d columns (metadat %s)\n", out, nrow(dat), ncol(dat),
            as.character(packageVersion("metadat"))))
