# Makes the keys configs/checkout.yaml names, in DIR, with `vigil keygen`
# (which never overwrites a key: the directory is made afresh).
file(REMOVE_RECURSE ${DIR})
file(MAKE_DIRECTORY ${DIR}/keys/authorized)
execute_process(COMMAND ${VIGIL} keygen --out ${DIR}/keys checkout RESULT_VARIABLE server_rc)
execute_process(COMMAND ${VIGIL} keygen --out ${DIR}/subscriber recorder RESULT_VARIABLE client_rc)
if(NOT server_rc EQUAL 0 OR NOT client_rc EQUAL 0)
  message(FATAL_ERROR "vigil keygen failed (${server_rc}, ${client_rc})")
endif()
file(COPY ${DIR}/subscriber/recorder.pub DESTINATION ${DIR}/keys/authorized)
