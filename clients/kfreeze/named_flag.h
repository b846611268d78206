// KF_NAMED_FLAG: an absl flag whose command-line name may contain hyphens.
#pragma once

#include "absl/flags/flag.h"

// ABSL_FLAG cannot spell hyphenated names; this is ABSL_FLAG_IMPL (absl/flags/flag.h, Debian's
// 20220623) with the name given as a string. Other commands reuse these flags through
// ABSL_DECLARE_FLAG(type, ram_layout) etc. instead of defining their own.
#define KF_NAMED_FLAG(Type, name, flag_name, default_value, help)                        \
  extern ::absl::Flag<Type> FLAGS_##name;                                                \
  ABSL_FLAG_IMPL_DECLARE_DEF_VAL_WRAPPER(name, Type, default_value)                      \
  ABSL_FLAG_IMPL_DECLARE_HELP_WRAPPER(name, help)                                        \
  ABSL_CONST_INIT absl::Flag<Type> FLAGS_##name{flag_name, ABSL_FLAG_IMPL_FILENAME(),    \
                                                ABSL_FLAG_IMPL_HELP_ARG(name),           \
                                                ABSL_FLAG_IMPL_DEFAULT_ARG(Type, name)}; \
  extern absl::flags_internal::FlagRegistrarEmpty FLAGS_no##name;                        \
  absl::flags_internal::FlagRegistrarEmpty FLAGS_no##name =                              \
      ABSL_FLAG_IMPL_REGISTRAR(Type, FLAGS_##name)
