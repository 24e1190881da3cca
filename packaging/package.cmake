# Installing wfrun (`cmake --install build`) and its Debian package (`cmake --build build
# --target package`, CPack): the binary; man pages and bash/zsh completions generated at build
# time from the CLI's own option tables (`wfrun __man`, `wfrun __completion`), so they cannot
# drift from --help; the systemd unit for `wfrun serve`; an example /etc/wfrun/server.yaml
# (a conffile); the guides from docs/. Included by the top-level CMakeLists.txt.

set(WFRUN_SHARE ${CMAKE_BINARY_DIR}/share)
add_custom_command(
  OUTPUT ${WFRUN_SHARE}/generated.stamp
  COMMAND ${CMAKE_COMMAND} -DWFRUN=$<TARGET_FILE:wfrun> -DOUT=${WFRUN_SHARE}
          -P ${CMAKE_CURRENT_LIST_DIR}/generate.cmake
  DEPENDS wfrun ${CMAKE_CURRENT_LIST_DIR}/generate.cmake
  COMMENT "Generating man pages and shell completions from wfrun's option tables"
  VERBATIM)
add_custom_target(wfrun_share ALL DEPENDS ${WFRUN_SHARE}/generated.stamp)

install(TARGETS wfrun RUNTIME DESTINATION bin)
install(DIRECTORY ${WFRUN_SHARE}/man/ DESTINATION share/man)
install(FILES ${WFRUN_SHARE}/bash-completion/completions/wfrun
        DESTINATION share/bash-completion/completions)
install(FILES ${WFRUN_SHARE}/zsh/vendor-completions/_wfrun DESTINATION share/zsh/vendor-completions)
file(GLOB WFRUN_GUIDES ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${WFRUN_GUIDES} DESTINATION share/doc/wfrun)

# The unit names the binary where this install puts it: /usr/bin in the package, PREFIX/bin
# for `cmake --install --prefix PREFIX`. The system paths are absolute on purpose (systemd and
# /etc do not move with the prefix); an existing server.yaml is never overwritten.
install(CODE "
  file(READ \"${CMAKE_CURRENT_LIST_DIR}/wfrun-serve.service.in\" unit)
  string(REPLACE \"@BINDIR@\" \"\${CMAKE_INSTALL_PREFIX}/bin\" unit \"\${unit}\")
  file(WRITE \"${CMAKE_BINARY_DIR}/packaging/wfrun-serve.service\" \"\${unit}\")
  # file(INSTALL) puts DESTDIR (CPack's staging folder) in front of these by itself.
  file(INSTALL \"${CMAKE_BINARY_DIR}/packaging/wfrun-serve.service\" DESTINATION /lib/systemd/system)
  if(NOT EXISTS \"\$ENV{DESTDIR}/etc/wfrun/server.yaml\")
    file(INSTALL \"${CMAKE_CURRENT_LIST_DIR}/server.yaml\" DESTINATION /etc/wfrun)
  endif()
")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME wfrun)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "wfrun developers <dev@wfrun.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "run Gradient-style ML workflows and notebooks on this machine")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "run Gradient-style ML workflows and notebooks on this machine
 wfrun runs machine-learning workflows written in Paperspace Gradient's workflow
 language as a graph of jobs, on the host or in podman or docker containers,
 with notebooks run as plain Python, GPU allocation and metrics, git commits and
 pushes of the results, and a record of every run. `wfrun serve` (the
 wfrun-serve service) runs a repository's workflows on GitHub webhooks.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
# Depends: the shared libraries' packages (dpkg-shlibdeps), plus useradd for the service user.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "passwd")
# What jobs usually run: git, python3, a container runtime.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "git, python3, podman | docker.io")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "systemd, man-db")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_LIST_DIR}/debian/postinst ${CMAKE_CURRENT_LIST_DIR}/debian/prerm
    ${CMAKE_CURRENT_LIST_DIR}/debian/postrm ${CMAKE_CURRENT_LIST_DIR}/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
