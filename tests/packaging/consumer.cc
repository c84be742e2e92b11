// A program outside strata's tree: built against the installed headers and library through
// pkg-config and through CMake's find_package, to prove both work.
#include <cstdio>

#include "strata/model/labels.h"
#include "strata/model/matcher.h"

int main() {
  strata::model::Labels l{{"__name__", "up"}, {"job", "api"}};
  auto m = strata::model::Matcher::Create(strata::model::MatchType::kRegexMatch, "job", "a.*");
  if (!m.ok() || !m->Matches(l)) return 1;
  std::printf("%s\n", l.ToString().c_str());
  return 0;
}
