# Build step of server/http/CMakeLists.txt: `npm ci` of this directory's lockfile into DEST (install
# scripts off), then checks that every file of FILES ('|'-separated, relative to DEST) is there and
# touches STAMP. The dashboard embeds those files: fetched when kfreezed is built, never at run time.
#   cmake -DNPM=npm -DSRC=<this dir> -DDEST=<build dir> -DFILES=a|b -DSTAMP=<file> -P npm_ci.cmake
file(MAKE_DIRECTORY ${DEST})
foreach(f package.json package-lock.json)
  configure_file(${SRC}/${f} ${DEST}/${f} COPYONLY)
endforeach()
# --prefer-offline: a warm npm cache builds without the registry; the lockfile's integrity hashes
# still decide what is installed.
execute_process(COMMAND ${NPM} ci --ignore-scripts --no-audit --no-fund --prefer-offline
  WORKING_DIRECTORY ${DEST} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  string(REGEX MATCHALL "[^\n]+" lines "${err}")
  list(SUBLIST lines 0 5 lines)  # the reason; the rest is a stack trace
  list(JOIN lines "\n" err)
  message(FATAL_ERROR
    "npm ci of server/http/dashboard-vendor failed (exit ${rc}).\n"
    "kfreezed embeds the dashboard's fleet view client (npm nats.ws, pinned by "
    "server/http/dashboard-vendor/package-lock.json) at build time: the build needs the npm "
    "registry, or an npm cache that already holds those packages (one online build fills it).\n"
    "npm said:\n${err}")
endif()
string(REPLACE "|" ";" files "${FILES}")
foreach(f ${files})
  if(NOT EXISTS ${DEST}/${f})
    message(FATAL_ERROR "npm ci of server/http/dashboard-vendor installed no ${f}: "
                        "does package-lock.json still pin the package that ships it?")
  endif()
endforeach()
file(TOUCH ${STAMP})
