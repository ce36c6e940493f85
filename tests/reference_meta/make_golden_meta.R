# Golden values for commonfactors.meta (random-effects meta-regression, REML).
# Run from the repository root:  Rscript tests/reference_meta/make_golden_meta.R
# Needs metafor (Debian: r-cran-metafor); writes golden_meta.csv and the two metadat data sets
# as CSV beside this script, so the Python tests need no R.
suppressPackageStartupMessages(library(metafor))
here <- "tests/reference_meta"

rows <- list()
add <- function(model, fit, names = NULL) {
  b <- as.numeric(coef(fit)); se <- as.numeric(fit$se)
  if (is.null(names)) names <- rownames(fit$beta)
  out <- data.frame(model = model, quantity = c(paste0("b_", names), paste0("se_", names)),
                    value = c(b, se))
  vc <- if (inherits(fit, "rma.mv")) fit$sigma2 else fit$tau2
  out <- rbind(out, data.frame(model = model, quantity = paste0("var", seq_along(vc)), value = vc))
  out <- rbind(out, data.frame(model = model, quantity = "loglik",
                               value = as.numeric(logLik(fit))))
  rows[[length(rows) + 1]] <<- out
}

## 1. Konstantopoulos (2011): schools within districts
dat <- dat.konstantopoulos2011
write.csv(dat[, c("district", "school", "study", "year", "yi", "vi")],
          file.path(here, "konstantopoulos2011.csv"), row.names = FALSE)
# rma.mv(yi, vi, random = ~ 1 | district, data = dat)
add("konst_district", rma.mv(yi, vi, random = ~ 1 | district, data = dat))
# rma.mv(yi, vi, mods = ~ year, random = ~ 1 | district, data = dat)
add("konst_district_year", rma.mv(yi, vi, mods = ~ year, random = ~ 1 | district, data = dat))
# rma.mv(yi, vi, random = ~ 1 | district/school, data = dat)   (var1 district, var2 school)
add("konst_district_school", rma.mv(yi, vi, random = ~ 1 | district/school, data = dat))

## 2. BCG vaccine trials: one estimate per study, Knapp-Hartung
bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
write.csv(data.frame(trial = bcg$trial, ablat = bcg$ablat, yi = as.numeric(bcg$yi),
                     vi = as.numeric(bcg$vi)),
          file.path(here, "bcg.csv"), row.names = FALSE)
# rma(yi, vi, mods = ~ ablat, data = bcg, method = "REML")
add("bcg_ablat", rma(yi, vi, mods = ~ ablat, data = bcg, method = "REML"))
# rma(yi, vi, mods = ~ ablat, data = bcg, method = "REML", test = "knha")
add("bcg_ablat_knha", rma(yi, vi, mods = ~ ablat, data = bcg, method = "REML", test = "knha"))

## 3. Simulated trial arms (arms_example.csv, from make_arms_example.py)
arms <- read.csv(file.path(here, "arms_example.csv"))
arms$type <- factor(arms$arm, levels = c("waitlist", "placebo", "active"))
arms$arm_id <- seq_len(nrow(arms))
shares <- function(fit) {
  m <- as.numeric(coef(fit))
  c(extra_therapeutic = m[1] / m[3], nonspecific = (m[2] - m[1]) / m[3],
    technique = (m[3] - m[2]) / m[3])
}
for (spec in list(list("arms_study", ~ 1 | study), list("arms_study_arm", ~ 1 | study/arm_id))) {
  # rma.mv(d, v, mods = ~ 0 + type, random = <spec>, data = arms)
  fit <- rma.mv(d, v, mods = ~ 0 + type, random = spec[[2]], data = arms)
  add(spec[[1]], fit, names = c("natural_course", "placebo", "active"))
  s <- shares(fit)
  rows[[length(rows) + 1]] <- data.frame(model = spec[[1]], quantity = paste0("share_", names(s)),
                                         value = as.numeric(s))
}

## 4. Metapsy depression arms (metapsy_arms.csv, from make_metapsy_arms.py): the main
##    design-based analysis of notebook 11, trial and arm random effects
mp <- read.csv(file.path(here, "metapsy_arms.csv"), encoding = "UTF-8")
mp$type <- factor(mp$arm_type, levels = c("natural_course", "nonspecific", "active"))
mp$arm_id <- seq_len(nrow(mp))
# rma.mv(change, v, mods = ~ 0 + type, random = ~ 1 | study/arm_id, data = mp)
fit <- rma.mv(change, v, mods = ~ 0 + type, random = ~ 1 | study/arm_id, data = mp)
add("metapsy_main", fit, names = c("natural_course", "placebo", "active"))
s <- shares(fit)
rows[[length(rows) + 1]] <- data.frame(model = "metapsy_main", quantity = paste0("share_", names(s)),
                                       value = as.numeric(s))

out <- do.call(rbind, rows)
out$metafor <- as.character(packageVersion("metafor"))
write.csv(out, file.path(here, "golden_meta.csv"), row.names = FALSE)
cat("wrote", file.path(here, "golden_meta.csv"), "\n")
